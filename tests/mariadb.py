"""The local MariaDB (or MySQL) that the import's tests read legacy databases from: whether it
answers, and statements run on it as its administrator (making and dropping a database)."""

import pymysql

TIMEOUT_S = 5


def _connect(host: str) -> pymysql.connections.Connection:
    """`host` is `user@address:port` (the user's password empty)."""
    user, _, address = host.rpartition("@")
    name, _, port = address.partition(":")
    return pymysql.connect(
        host=name, port=int(port or 3306), user=user or "root", password="", connect_timeout=TIMEOUT_S
    )


def mariadb_admin(host: str, sql: str) -> None:
    conn = _connect(host)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
        conn.commit()
    finally:
        conn.close()


def mariadb_error(host: str) -> str | None:
    """None when the server at `host` answers, else why not."""
    try:
        mariadb_admin(host, "SELECT 1")
    except (OSError, pymysql.MySQLError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
