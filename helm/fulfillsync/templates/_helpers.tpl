{{/*
Names, labels, the configuration file and the checks that fail the rendering.
*/}}

{{- define "fulfillsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fulfillsync.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's name: <fullname>-<component>, within 63 characters (StatefulSet pods add -<ordinal>). */}}
{{- define "fulfillsync.component" -}}
{{- printf "%s-%s" (include "fulfillsync.fullname" .root | trunc 50 | trimSuffix "-") .component -}}
{{- end -}}

{{- define "fulfillsync.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "fulfillsync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "fulfillsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fulfillsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component (worker, web, topics): dict "root" $ "component" "worker". */}}
{{- define "fulfillsync.componentLabels" -}}
{{ include "fulfillsync.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "fulfillsync.componentSelector" -}}
{{ include "fulfillsync.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "fulfillsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "fulfillsync.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "fulfillsync.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Faust app id and consumer group of the workers (schemas/topics.py TopicNames.app_id). */}}
{{- define "fulfillsync.groupId" -}}
{{- printf "%s-ledger" (include "fulfillsync.topicPrefix" .) -}}
{{- end -}}

{{- define "fulfillsync.topicPrefix" -}}
{{- (.Values.config.kafka | default dict).topic_prefix | default "fulfillsync" -}}
{{- end -}}

{{/* config.kafka.partitions, with the configuration's own default (schemas/config.py KafkaSettings). */}}
{{- define "fulfillsync.partitions" -}}
{{- (.Values.config.kafka | default dict).partitions | default 6 | int -}}
{{- end -}}

{{- define "fulfillsync.configPath" -}}/etc/fulfillsync/config.yaml{{- end -}}

{{/* "yes" when the pods mount Kafka TLS files (a CA or a client certificate, with SSL or SASL_SSL). */}}
{{- define "fulfillsync.tlsFiles" -}}
{{- $security := .Values.kafkaSecurity -}}
{{- if and (hasSuffix "SSL" $security.protocol) (or $security.tls.caSecretName $security.tls.clientSecretName) -}}yes{{- end -}}
{{- end -}}
{{- define "fulfillsync.tlsPath" -}}/etc/fulfillsync/kafka-tls{{- end -}}

{{/*
A duration of the configuration (`30d`, `15m`, `500ms`, or a number of seconds; schemas/config.py parse_duration)
in milliseconds, as an integer. dict "value" <duration> "key" <its key path, for the error message>.
*/}}
{{- define "fulfillsync.durationMs" -}}
{{- $value := .value -}}
{{- if kindIs "string" $value -}}
{{- $text := trim $value -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $text -}}
{{- $unit := trim (trimPrefix $number $text) -}}
{{- $scale := get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000) $unit -}}
{{- if or (not $number) (not $scale) -}}
{{- fail (printf "%s: %q is not a duration such as 30s, 15m, 1h or 7d" .key $value) -}}
{{- end -}}
{{- round (mulf (float64 $number) $scale) 0 | int64 -}}
{{- else -}}
{{- round (mulf (float64 $value) 1000) 0 | int64 -}}
{{- end -}}
{{- end -}}

{{/* Whether a string is exactly one ${NAME} reference. */}}
{{- define "fulfillsync.isReference" -}}
{{- if and (kindIs "string" .) (regexMatch "^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$" .) -}}yes{{- end -}}
{{- end -}}

{{/* Fails unless `value` is a ${NAME} reference: dict "value" <v> "key" <path>. */}}
{{- define "fulfillsync.requireReference" -}}
{{- if not (include "fulfillsync.isReference" .value) -}}
{{- fail (printf "config.%s: write a ${NAME} reference to a key of the Secret named by existingSecret, never the secret itself (values end up in the release's history and the ConfigMap)" .key) -}}
{{- end -}}
{{- end -}}

{{/*
Every check of the values that Kubernetes or the configuration would otherwise only report once pods crash.
Included by the ConfigMap, so every rendering runs it.
*/}}
{{- define "fulfillsync.validate" -}}
{{- $partitions := include "fulfillsync.partitions" . | int -}}
{{- if not .Values.existingSecret -}}
{{- fail "existingSecret: name the Secret holding the credentials the configuration refers to (docs/deploy.md, \"Create the Secret\")" -}}
{{- end -}}
{{- if and (not .Values.autoscaling.enabled) (gt (int .Values.worker.replicas) $partitions) -}}
{{- fail (printf "worker.replicas (%d) exceeds config.kafka.partitions (%d): a worker beyond the partition count gets no partition and does no work; lower worker.replicas or raise partitions before the topics are created" (int .Values.worker.replicas) $partitions) -}}
{{- end -}}
{{- if .Values.autoscaling.enabled -}}
{{- $max := int (default $partitions .Values.autoscaling.maxReplicas) -}}
{{- if gt $max $partitions -}}
{{- fail (printf "autoscaling.maxReplicas (%d) exceeds config.kafka.partitions (%d): workers beyond the partition count would do no work" $max $partitions) -}}
{{- end -}}
{{- if gt (int .Values.autoscaling.minReplicas) $max -}}
{{- fail (printf "autoscaling.minReplicas (%d) exceeds autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) $max) -}}
{{- end -}}
{{- end -}}
{{- $config := .Values.config | default dict -}}
{{- range $section, $keys := dict "worker" (list "web_host" "web_port" "state_dir" "standby_replicas" "group_instance_id") "web" (list "host" "port" "store_dir") "kafka" (list "security_protocol" "sasl" "ssl") -}}
{{- range $key := $keys -}}
{{- if hasKey (get $config $section | default dict) $key -}}
{{- fail (printf "config.%s.%s: set by the chart (see values.yaml: worker, web, kafkaSecurity); remove it from config" $section $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $index, $connection := $config.connections | default list -}}
{{- range $name, $value := $connection.credentials | default dict -}}
{{- include "fulfillsync.requireReference" (dict "value" $value "key" (printf "connections[%d].credentials.%s" $index $name)) -}}
{{- end -}}
{{- if hasKey $connection "webhook_secret" -}}
{{- include "fulfillsync.requireReference" (dict "value" $connection.webhook_secret "key" (printf "connections[%d].webhook_secret" $index)) -}}
{{- end -}}
{{- if $connection.web_access -}}
{{- include "fulfillsync.requireReference" (dict "value" $connection.web_access.password_hash "key" (printf "connections[%d].web_access.password_hash" $index)) -}}
{{- end -}}
{{- end -}}
{{- $web := $config.web | default dict -}}
{{- if hasKey $web "session_secret" -}}
{{- include "fulfillsync.requireReference" (dict "value" $web.session_secret "key" "web.session_secret") -}}
{{- else if .Values.web.enabled -}}
{{- fail "config.web.session_secret: the web app needs it (web.enabled): write ${FULFILLSYNC_WEB_SECRET} and put that key in the Secret" -}}
{{- end -}}
{{- if and $web.smtp (hasKey ($web.smtp | default dict) "password") -}}
{{- include "fulfillsync.requireReference" (dict "value" $web.smtp.password "key" "web.smtp.password") -}}
{{- end -}}
{{- $security := .Values.kafkaSecurity -}}
{{- if and (hasPrefix "SASL_" $security.protocol) (not $security.sasl.username) -}}
{{- fail (printf "kafkaSecurity.sasl.username: required with protocol %s" $security.protocol) -}}
{{- end -}}
{{- if and (hasPrefix "SASL_" $security.protocol) (not $security.sasl.passwordKey) -}}
{{- fail (printf "kafkaSecurity.sasl.passwordKey: name the key of existingSecret holding the Kafka password (protocol %s)" $security.protocol) -}}
{{- end -}}
{{- if and $security.tls.keyPasswordKey (not $security.tls.clientSecretName) -}}
{{- fail "kafkaSecurity.tls.keyPasswordKey: only with a client certificate (kafkaSecurity.tls.clientSecretName)" -}}
{{- end -}}
{{- if and (or $security.tls.caSecretName $security.tls.clientSecretName) (not (hasSuffix "SSL" $security.protocol)) -}}
{{- fail (printf "kafkaSecurity.tls: TLS files with protocol %s would not be used: choose SSL or SASL_SSL, or remove them" $security.protocol) -}}
{{- end -}}
{{- if and (eq .Values.topics.mode "strimzi") (not .Values.topics.strimzi.clusterName) -}}
{{- fail "topics.strimzi.clusterName: name the Strimzi Kafka cluster (its label strimzi.io/cluster) with topics.mode strimzi" -}}
{{- end -}}
{{- end -}}

{{/*
The configuration file: config as given, plus what the chart owns (the pods' ports and paths, standby replicas,
static membership, Kafka security).
*/}}
{{- define "fulfillsync.configFile" -}}
{{- $config := deepCopy (.Values.config | default dict) -}}
{{- $worker := get $config "worker" | default dict -}}
{{- $_ := set $worker "web_host" "0.0.0.0" -}}
{{- $_ := set $worker "web_port" (int .Values.worker.port) -}}
{{- $_ := set $worker "state_dir" .Values.worker.persistence.mountPath -}}
{{- $_ := set $worker "standby_replicas" (int .Values.worker.standbyReplicas) -}}
{{- if .Values.worker.staticMembership -}}
{{- $_ := set $worker "group_instance_id" "${POD_NAME}" -}}
{{- end -}}
{{- $_ := set $config "worker" $worker -}}
{{- $web := get $config "web" | default dict -}}
{{- $_ := set $web "host" "0.0.0.0" -}}
{{- $_ := set $web "port" (int .Values.web.port) -}}
{{- $_ := set $web "store_dir" .Values.web.store.mountPath -}}
{{- $_ := set $config "web" $web -}}
{{- $kafka := get $config "kafka" | default dict -}}
{{- $security := .Values.kafkaSecurity -}}
{{- $_ := set $kafka "security_protocol" $security.protocol -}}
{{- if hasPrefix "SASL_" $security.protocol -}}
{{- $_ := set $kafka "sasl" (dict "mechanism" $security.sasl.mechanism "username" $security.sasl.username "password" (printf "${%s}" $security.sasl.passwordKey)) -}}
{{- end -}}
{{- if hasSuffix "SSL" $security.protocol -}}
{{- $ssl := dict "check_hostname" $security.tls.checkHostname -}}
{{- if $security.tls.caSecretName -}}
{{- $_ := set $ssl "ca_file" (printf "%s/ca.crt" (include "fulfillsync.tlsPath" .)) -}}
{{- end -}}
{{- if $security.tls.clientSecretName -}}
{{- $_ := set $ssl "cert_file" (printf "%s/client.crt" (include "fulfillsync.tlsPath" .)) -}}
{{- $_ := set $ssl "key_file" (printf "%s/client.key" (include "fulfillsync.tlsPath" .)) -}}
{{- end -}}
{{- if $security.tls.keyPasswordKey -}}
{{- $_ := set $ssl "key_password" (printf "${%s}" $security.tls.keyPasswordKey) -}}
{{- end -}}
{{- $_ := set $kafka "ssl" $ssl -}}
{{- end -}}
{{- $_ := set $config "kafka" $kafka -}}
{{- toYaml $config -}}
{{- end -}}

{{/* What every pod that reads the configuration shares: its environment. */}}
{{- define "fulfillsync.env" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "fulfillsync.envFrom" -}}
- secretRef:
    name: {{ .Values.existingSecret }}
{{- end -}}

{{/* Volume mounts of a container reading the configuration: dict "root" $ "configMap" <name>. */}}
{{- define "fulfillsync.volumeMounts" -}}
- name: config
  mountPath: {{ include "fulfillsync.configPath" .root }}
  subPath: config.yaml
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if include "fulfillsync.tlsFiles" .root }}
- name: kafka-tls
  mountPath: {{ include "fulfillsync.tlsPath" .root }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "fulfillsync.volumes" -}}
- name: config
  configMap:
    name: {{ .configMap }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .root.Values.tmpSizeLimit }}
{{- $tls := .root.Values.kafkaSecurity.tls }}
{{- if include "fulfillsync.tlsFiles" .root }}
# The Kafka TLS files, from their Secrets, under the names kafka.ssl gives them (readable by the pods' fsGroup).
- name: kafka-tls
  projected:
    defaultMode: 0440
    sources:
      {{- if $tls.caSecretName }}
      - secret:
          name: {{ $tls.caSecretName }}
          items: [{key: {{ $tls.caKey | quote }}, path: ca.crt}]
      {{- end }}
      {{- if $tls.clientSecretName }}
      - secret:
          name: {{ $tls.clientSecretName }}
          items: [{key: {{ $tls.certKey | quote }}, path: client.crt}, {key: {{ $tls.keyKey | quote }}, path: client.key}]
      {{- end }}
{{- end }}
{{- end -}}

{{/* Topology spread over zones and nodes: dict "root" $ "component" <c> "spread" <values>. */}}
{{- define "fulfillsync.topologySpread" -}}
{{- if .spread.enabled -}}
topologySpreadConstraints:
{{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: {{ $.spread.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ $.spread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "fulfillsync.componentSelector" (dict "root" $.root "component" $.component) | nindent 8 }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Every topic the service needs, as `fulfillsync topics create` makes them (streams/admin.py topic_specs; a test
compares the two): a YAML list of {name, partitions, config}.
*/}}
{{- define "fulfillsync.topicSpecs" -}}
{{- $kafka := .Values.config.kafka | default dict -}}
{{- $prefix := include "fulfillsync.topicPrefix" . -}}
{{- $partitions := include "fulfillsync.partitions" . | int -}}
{{- $app := include "fulfillsync.groupId" . -}}
{{- $retention := include "fulfillsync.durationMs" (dict "value" ($kafka.retention | default "30d") "key" "config.kafka.retention") -}}
{{- $deadLetters := include "fulfillsync.durationMs" (dict "value" ($kafka.dead_letter_retention | default "90d") "key" "config.kafka.dead_letter_retention") -}}
{{- $events := dict "cleanup.policy" "delete" "retention.ms" $retention -}}
{{- $topics := list -}}
{{- range $name := list "order-events" "fulfillment-events" "shipped-orders" -}}
{{- $topics = append $topics (dict "name" (printf "%s.%s" $prefix $name) "partitions" $partitions "config" $events) -}}
{{- end -}}
{{- $topics = append $topics (dict "name" (printf "%s.dead-letters" $prefix) "partitions" $partitions "config" (dict "cleanup.policy" "delete" "retention.ms" $deadLetters)) -}}
{{- $topics = append $topics (dict "name" (printf "%s-__assignor-__leader" $app) "partitions" 1 "config" (dict "cleanup.policy" "delete")) -}}
{{- $topics = append $topics (dict "name" (printf "%s.poll-ticks" $prefix) "partitions" $partitions "config" (dict "cleanup.policy" "delete" "retention.ms" "86400000")) -}}
{{- range $name := list "seller-order-retries" "seller-checks" "buyer-pushes" "buyer-push-retries" -}}
{{- $topics = append $topics (dict "name" (printf "%s.%s" $prefix $name) "partitions" $partitions "config" $events) -}}
{{- end -}}
{{- $topics = append $topics (dict "name" (printf "%s.requeued-letters" $prefix) "partitions" $partitions "config" (dict "cleanup.policy" "compact")) -}}
{{- range $table := list "orders" "poll-cursors" "buyer-orders" "seller-orders" "seller-fulfillments" "buyer-fulfillments" -}}
{{- $topics = append $topics (dict "name" (printf "%s-%s-changelog" $app $table) "partitions" $partitions "config" (dict "cleanup.policy" "compact")) -}}
{{- end -}}
{{- toYaml $topics -}}
{{- end -}}
