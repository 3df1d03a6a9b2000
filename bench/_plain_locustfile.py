"""The peer run for bench/load_vs_locust.py: plain locust, FastHttpUser, no wait, the same
request mlqa sends (read from BENCH_BODY / BENCH_ROUTE / BENCH_TOKEN)."""
import os

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

BODY = open(os.environ["BENCH_BODY"], "rb").read()
HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {os.environ['BENCH_TOKEN']}"}


class Plain(FastHttpUser):
    wait_time = constant(0)

    @task
    def infer(self):
        self.client.post(os.environ["BENCH_ROUTE"], data=BODY, headers=HEADERS)
