"""HTTP framing for the gateway and the control API: a threaded server on loopback.

One thread per connection (``ThreadingHTTPServer``): a request parked by a hold,
or slowed by scripted latency, never blocks another caller.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .controlapi import CONTROL_PREFIX
from .core import DropConnection

MAX_BODY_BYTES = 8 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body are separate writes: avoid the 40 ms Nagle stall
    server_version = "localcloud"

    def log_message(self, *args):   # quiet: the call log is the record
        pass

    def _serve(self):
        gateway = self.server.gateway
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, MAX_BODY_BYTES)) if length else b""
        control = self.server.control
        if control is not None and (split.path == CONTROL_PREFIX or split.path.startswith(CONTROL_PREFIX + "/")):
            self._control(control, split, body)
            return
        form = {}
        if body and "application/x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        params = dict(query)
        params.update(form)
        action = headers.get("x-acs-action") or params.get("Action")
        version = headers.get("x-acs-version") or params.get("Version")
        for meta in ("Action", "Version", "Format", "AccessKeyId", "SignatureMethod", "SignatureVersion",
                     "SignatureNonce", "Signature", "Timestamp", "SecurityToken", "RegionId"):
            params.pop(meta, None)
        auth = (self.command, split.path or "/", query, headers, body)
        try:
            status, payload = gateway.handle(action, version, params, auth=auth)
        except DropConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-acs-request-id", payload["RequestId"])
        self.end_headers()
        self.wfile.write(data)

    def _control(self, control, split, body):
        try:
            status, payload = control.handle(self.command, split.path, split.query, body, self.client_address[0],
                                             self.headers.get("Host"))
        except Exception as exc:  # a control-API bug: say so, keep serving
            print(f"localcloud: control API error on {self.command} {split.path}: {type(exc).__name__}: {exc}",
                  file=sys.stderr, flush=True)
            status, payload = 500, {"error": {"code": "InternalError", "message": f"{type(exc).__name__}"}}
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = 128   # socketserver's default backlog of 5 overflows when 16+ clients race


class Server:
    def __init__(self, gateway, host="127.0.0.1", port=0, control=None):
        self.httpd = _HTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.gateway = gateway
        self.httpd.control = control
        self.thread = None

    @property
    def address(self):
        host, port = self.httpd.server_address[:2]
        return f"{host}:{port}"

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="localcloud", daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
