"""python manage.py demo: migrate, load the demo data, print credentials, run web + worker + beat."""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.embedded_db import server_revive
from config.supervisor import Supervisor
from demo.services.imagenet_val import IMAGENET_VAL_NAME, IMAGENET_VAL_SLUG, demo_imagenet_val_load
from demo.services.imagenetv2 import COMPARISON_PATH, IMAGENETV2_NAME, demo_imagenetv2_load
from demo.services.photographs import (
    DEMO_USERS,
    demo_annotators_assign,
    demo_answers_simulate,
    demo_dataset_load,
    demo_users_create,
)
from demo.tasks import demo_imagenet_val_load_task


class Command(BaseCommand):
    help = (
        "Start the whole app with demo data on 127.0.0.1:8000 (web, Celery worker and beat, restarted if one "
        "exits). Ctrl-C stops all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="Load the demo data and exit.")
        parser.add_argument(
            "--no-imagenet",
            action="store_true",
            help="Skip the ImageNet val dataset (50,000 images with ReaL's raters, loaded in the background).",
        )

    def handle(self, *args: object, **options: object) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        dataset, report = demo_dataset_load()
        self.stdout.write(f"demo dataset '{dataset.slug}': {report.summary()}")
        credentials = demo_users_create()
        demo_annotators_assign(dataset=dataset)
        answered = demo_answers_simulate(dataset=dataset)
        if answered:
            self.stdout.write(f"{answered} answers by simulated raters (see the agreement dashboard and review queue)")
        self._print_credentials(credentials, str(options["addr"]))
        if not options["no_imagenet"]:
            self._imagenet_val_load(str(options["addr"]), foreground=bool(options["no_serve"]))
        if not options["no_serve"]:
            self._serve(str(options["addr"]))

    def _imagenet_val_load(self, addr: str, *, foreground: bool) -> None:
        """Enqueued before the worker starts (the broker keeps the message), so serving starts at once;
        without a worker (--no-serve) it runs here."""
        where = f"http://{addr}/datasets/{IMAGENET_VAL_SLUG}/evaluation/ and /datasets/{IMAGENET_VAL_SLUG}/agreement/"
        comparison = f"http://{addr}{COMPARISON_PATH}"
        if foreground:
            report = demo_imagenet_val_load()
            self.stdout.write(f"'{IMAGENET_VAL_NAME}' ready ({report.seconds:.0f} s): {where}")
            report = demo_imagenetv2_load()
            self.stdout.write(f"'{IMAGENETV2_NAME}' ready ({report.seconds:.0f} s); compared with it: {comparison}")
            return
        demo_imagenet_val_load_task.delay()
        self.stdout.write(
            f"'{IMAGENET_VAL_NAME}' (50,000 images, ReaL's raters, 3 models) and '{IMAGENETV2_NAME}' (10,000 "
            f"images, the same 3 models) are loading in the background (about a minute, one line per step in "
            f"the worker's log); then see {where} as researcher or reviewer (Evaluate against 'ReaL' for the "
            f"published figures), and the two datasets side by side at {comparison}"
        )

    def _print_credentials(self, credentials: dict[str, str], addr: str) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nReLabel demo on http://{addr}/  (admin: http://{addr}/admin/)"))
        for username, password in credentials.items():
            roles = ", ".join(DEMO_USERS[username][0]) or "staff (admin)"
            self.stdout.write(f"  {username:<12} password: {password:<14} role: {roles}")
        self.stdout.write("Passwords are new on every run.\n")

    def _serve(self, addr: str) -> None:
        call_command("collectstatic", interactive=False, verbosity=0)
        python = sys.executable
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local"),
            # Debug off, as in production: the site's own error pages, no URL list on a 404, no traceback on
            # a 500; static files come from whitenoise (collected above).
            "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "false"),
        }
        commands = {
            "web": [
                python,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                addr,
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
                # Ctrl-C waits for requests in flight this long (the supervisor kills what is left after 15 s).
                "--graceful-timeout",
                "10",
            ],
            "worker": [python, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "2"],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }
        supervisor = Supervisor(commands, env=env, log=self.stderr.write, revive_database=server_revive)
        if supervisor.run() != 0:
            raise CommandError("the demo stopped: a process kept failing (see above)")
