"""django-q2's ORM broker, woken by PostgreSQL LISTEN/NOTIFY instead of polling.

The ORM broker looks for a task, and when there is none sleeps ``poll``
seconds: a job queued right after that waits up to ``poll`` before a worker
sees it. Here ``enqueue`` also sends ``NOTIFY flashfusion_q`` (delivered
when the task row commits) and an empty ``dequeue`` waits on ``LISTEN`` for
up to ``poll`` seconds, so pickup takes milliseconds while an idle cluster
still looks only once per ``poll``. Used when the database is PostgreSQL and
there is no Redis (with Redis, django-q2's Redis broker blocks on BLPOP).
"""

import logging

import psycopg
from django.db import connections
from django_q.brokers.orm import ORM
from django_q.conf import Conf

log = logging.getLogger(__name__)

CHANNEL = "flashfusion_q"


class PostgresNotifyBroker(ORM):
    """``ORM`` broker plus a LISTEN connection of its own (autocommit, one per broker process)."""

    _listener: psycopg.Connection | None = None

    def enqueue(self, task):
        pk = super().enqueue(task)
        with connections[Conf.ORM].cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])
        return pk

    def dequeue(self):
        tasks = self._take()
        if tasks:
            return tasks
        self._wait(Conf.POLL)
        return self._take() or None

    def _take(self):
        """The ORM broker's claim of up to ``Conf.BULK`` tasks, without its sleep."""
        from django.utils import timezone

        tasks = self.get_connection().filter(key=self.list_key, lock__lt=timezone.now())[0 : Conf.BULK]
        taken = []
        for task in tasks:
            if self.get_connection().filter(id=task.id, lock=task.lock).update(lock=self.timeout(task)):
                taken.append((task.pk, task.payload))
        return taken

    def _wait(self, seconds: float) -> None:
        """Block until a NOTIFY on ``CHANNEL`` or ``seconds`` pass; on a broken listener, just sleep."""
        try:
            listener = self._listen()
            for _ in listener.notifies(timeout=seconds, stop_after=1):
                break
        except psycopg.Error as exc:
            log.warning("LISTEN connection lost (%s); polling until it is back", exc)
            self._close_listener()
            import time

            time.sleep(seconds)

    def _listen(self) -> psycopg.Connection:
        if self._listener is None or self._listener.closed:
            settings_dict = connections[Conf.ORM].settings_dict
            params = {
                "dbname": settings_dict["NAME"],
                "user": settings_dict.get("USER") or None,
                "password": settings_dict.get("PASSWORD") or None,
                "host": settings_dict.get("HOST") or None,
                "port": settings_dict.get("PORT") or None,
            }
            self._listener = psycopg.connect(autocommit=True, **{k: v for k, v in params.items() if v})
            self._listener.execute(f"LISTEN {CHANNEL}")
        return self._listener

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except psycopg.Error:
                pass
        self._listener = None
