"""The worker's HTTP endpoints on Faust's web server: `health` (/healthz, /readyz, /metrics) and `webhooks`
(POST /webhooks/{connection_id}, verified deliveries that ask for a poll)."""
