"""An in-memory order store."""

import subprocess


class OrderStore:
    def __init__(self):
        self._orders = {}

    def add(self, order_id, lines):
        if order_id in self._orders:
            raise KeyError(f"order {order_id} exists")
        self._orders[order_id] = list(lines)

    def get(self, order_id):
        return self._orders[order_id]

    def count(self):
        return len(self._orders)

    def export(self, path):
        with open(path, "w", encoding="utf-8") as handle:
            handle.writelines(f"{order_id}\t{len(lines)}\n" for order_id, lines in sorted(self._orders.items()))


def git_revision():
    """The deployed revision, for the health endpoint."""
    out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "unknown"
