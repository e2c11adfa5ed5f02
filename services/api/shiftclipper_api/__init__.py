"""The gateway: HTTP API, streaming uploads, SSE, web UI."""
