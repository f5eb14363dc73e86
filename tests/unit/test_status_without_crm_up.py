"""`crm status` for processes run one by one (docs/deployment.md, "Several hosts"): no
`crm up`, so no endpoints.json; the status comes from the gateway the settings name."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from typer.testing import CliRunner

from ops.cli import app

BODY = {
    "status": "ok",
    "down": [],
    "components": {"relay@b:8": {"component": "relay", "status": "ok", "detail": "leading"}},
    "processes": [],
}


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        data = json.dumps(BODY).encode() if self.path == "/healthz" else b"{}"
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_status_asks_the_configured_gateway_when_no_crm_up_runs(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {
            "CRM_DATA_DIR": str(tmp_path / "data"),
            "CRM_DATABASE_URL": "postgresql://crm_app:x@127.0.0.1:1/crm",
            "CRM_KAFKA_BOOTSTRAP": "127.0.0.1:1",
            "CRM_PORT": str(server.server_address[1]),
            "COLUMNS": "200",
        }
        result = CliRunner().invoke(app, ["status"], env=env)
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    assert "relay@b:8" in result.output
    assert "leading" in result.output
