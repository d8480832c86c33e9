"""Our SFTP client of a bank's file channel (IF-EXT-001 send files, IF-EXT-002 return and statement files;
docs/BANK.md), on paramiko.

The server's host key is pinned: the configuration's `host_key` ("ssh-ed25519 AAAA...") is the only key
accepted, any other is refused before a password or key is sent (`BankSftpError("host key ...")`). An
upload is written under a dot-prefixed partial name and renamed into place, so the bank never picks up
half a file. A connection serves one use case's calls (`with BankSftp.connect(...) as sftp:`).
"""

from __future__ import annotations

import base64
import binascii
import io
import posixpath
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple


class BankSftpError(Exception):
    """The bank's file channel failed (connection, authentication, host key, a file operation)."""


class Credentials(NamedTuple):
    username: str
    password: str | None = None
    private_key: str | None = None  # OpenSSH PEM text


def _host_key(spec: str) -> Any:
    import paramiko

    parts = spec.split()
    if len(parts) < 2:
        raise BankSftpError("host key: 须为 '<type> <base64>'")
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1]))
    except (paramiko.SSHException, binascii.Error, ValueError) as exc:
        raise BankSftpError(f"host key: 无法解析（{exc}）") from None


def _private_key(text: str) -> Any:
    import paramiko

    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(text))
        except paramiko.SSHException:
            continue
    raise BankSftpError("private key: 无法解析")


class BankSftp:
    def __init__(self, sftp: Any) -> None:
        self._sftp = sftp

    @classmethod
    @contextmanager
    def connect(
        cls, host: str, port: int, credentials: Credentials, host_key: str, timeout_s: float = 10.0
    ) -> Iterator[BankSftp]:
        import paramiko  # cold path: only the batch steps that move files

        pinned = _host_key(host_key)
        transport = paramiko.Transport((host, int(port)))
        transport.banner_timeout = timeout_s
        try:
            try:
                transport.start_client(timeout=timeout_s)
            except (paramiko.SSHException, OSError) as exc:
                raise BankSftpError(f"connect {host}:{port}: {exc}") from None
            offered = transport.get_remote_server_key()
            if offered.get_name() != pinned.get_name() or offered.asbytes() != pinned.asbytes():
                raise BankSftpError(f"host key of {host}:{port} is not the pinned one: refused")
            try:
                if credentials.private_key:
                    transport.auth_publickey(credentials.username, _private_key(credentials.private_key))
                else:
                    transport.auth_password(credentials.username, credentials.password or "")
            except paramiko.SSHException as exc:
                raise BankSftpError(f"authentication as {credentials.username}: {exc}") from None
            sftp = paramiko.SFTPClient.from_transport(transport)
            if sftp is None:
                raise BankSftpError("no SFTP channel")
            try:
                yield cls(sftp)
            finally:
                sftp.close()
        finally:
            transport.close()

    def makedirs(self, directory: str) -> None:
        path = ""
        for part in directory.strip("/").split("/"):
            path = f"{path}/{part}"
            try:
                self._sftp.stat(path)
            except FileNotFoundError:
                self._sftp.mkdir(path)

    @staticmethod
    def partial_path(path: str) -> str:
        """Where an upload of `path` is written before its rename (a bank never takes a dot-prefixed name)."""
        directory, name = posixpath.split(path)
        return posixpath.join(directory, f".{name}.part")

    def upload(self, path: str, data: bytes, before_rename: Callable[[], None] | None = None) -> None:
        """Write `data` as the partial copy, then rename it to `path`. `before_rename` is called between
        the two: from its call on, the file may be in place (the rename's answer may be lost)."""
        directory, _name = posixpath.split(path)
        self.makedirs(directory)
        partial = self.partial_path(path)
        try:
            with self._sftp.open(partial, "wb") as out:
                out.write(data)
            if before_rename is not None:
                before_rename()
            try:
                self._sftp.posix_rename(partial, path)
            except OSError:
                self._sftp.rename(partial, path)
        except OSError as exc:
            raise BankSftpError(f"upload {path}: {exc}") from None

    def read(self, path: str) -> bytes:
        try:
            with self._sftp.open(path, "rb") as source:
                return bytes(source.read())
        except OSError as exc:
            raise BankSftpError(f"read {path}: {exc}") from None

    def exists(self, path: str) -> bool:
        try:
            return stat.S_ISREG(self._sftp.stat(path).st_mode or 0)
        except FileNotFoundError:
            return False

    def remove(self, path: str) -> bool:
        """Delete a file; False when it is not there (the bank has taken it)."""
        try:
            self._sftp.remove(path)
            return True
        except FileNotFoundError:
            return False

    def listdir(self, directory: str) -> list[str]:
        try:
            return sorted(
                n for n in self._sftp.listdir(directory) if n not in (".", "..") and not n.startswith(".")
            )
        except FileNotFoundError:
            return []
