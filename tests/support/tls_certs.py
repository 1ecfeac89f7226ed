"""Test certificates made with the `openssl` command: a CA, a server certificate for
127.0.0.1/localhost, a client certificate signed by the CA, and a client certificate signed by
nobody the server trusts. Every suite that tests TLS builds its own set in a temp dir."""
import ssl
import subprocess
import tempfile
from pathlib import Path


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def _signed(directory, name, subject, ca="ca", extensions=None, key_pass=None):
    key_args = ["-passout", f"pass:{key_pass}"] if key_pass else ["-nodes"]
    _openssl("req", "-new", "-newkey", "rsa:2048", *key_args, "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", subject, cwd=directory)
    args = ["x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2"]
    if extensions:
        (Path(directory) / f"{name}.ext").write_text(extensions + "\n")
        args += ["-extfile", f"{name}.ext"]
    _openssl(*args, cwd=directory)


class Certs:
    """Paths of a generated certificate set (attributes are str paths)."""

    def __init__(self, directory=None):
        self.dir = Path(directory or tempfile.mkdtemp(prefix="backplane-tls-"))
        d = self.dir
        for ca in ("ca", "other-ca"):
            _openssl("req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout",
                     f"{ca}.key", "-out", f"{ca}.crt", "-days", "2", "-subj",
                     f"/CN=Backplane test {ca}", cwd=d)
        server_san = "subjectAltName=DNS:localhost,IP:127.0.0.1"
        _signed(d, "server", "/CN=localhost", extensions=server_san)
        _signed(d, "server2", "/CN=reloaded", extensions=server_san)
        _signed(d, "server-pass", "/CN=localhost", extensions=server_san, key_pass="keypass")
        _signed(d, "client", "/CN=client")
        _signed(d, "stranger", "/CN=stranger", ca="other-ca")
        self.ca = str(d / "ca.crt")
        for name in ("server", "server2", "server-pass", "client", "stranger"):
            setattr(self, name.replace("-", "_") + "_cert", str(d / f"{name}.crt"))
            setattr(self, name.replace("-", "_") + "_key", str(d / f"{name}.key"))

    def server_directives(self, **extra):
        """Directives for a server using these certificates (client certificates required)."""
        directives = {"tls-cert-file": self.server_cert, "tls-key-file": self.server_key,
                      "tls-ca-cert-file": self.ca}
        directives.update(extra)
        return directives

    def client_context(self, cert=True, stranger=False, verify=True):
        """An ssl.SSLContext for a test client: trusts the CA, presents the client certificate
        (or the stranger's, or none)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if verify:
            context.load_verify_locations(self.ca)
        else:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if stranger:
            context.load_cert_chain(self.stranger_cert, self.stranger_key)
        elif cert:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


def start_tls_server(binary, certs, options=None):
    """Starts `binary` (backplane-server or redis-server) on free ports with a plain port and a
    tls-port using `certs`, plus `options` as directives; the server knows both ports as
    `plain_port` and `tls_port`. Retries when a free port was taken meanwhile."""
    from servers import REDIS_SERVER, ServerProcess, _directives, free_port
    for attempt in range(5):
        port, tls_port = free_port(), free_port()
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--tls-port", str(tls_port)]
        if binary == REDIS_SERVER:
            argv += ["--save", "", "--appendonly", "no"]
        argv += _directives({"tls-cert-file": certs.server_cert, "tls-key-file": certs.server_key,
                             "tls-ca-cert-file": certs.ca, **(options or {})})
        label = "redis" if binary == REDIS_SERVER else "backplane"
        try:
            server = ServerProcess(argv, tls_port, label).wait_ready()
        except RuntimeError as error:
            if "already in use" in str(error) and attempt < 4:
                continue
            raise
        server.plain_port, server.tls_port = port, tls_port
        return server

