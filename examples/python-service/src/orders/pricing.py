"""Prices, discounts and taxes."""

import hashlib
import random

TAX_RATES = {"de": 0.19, "fr": 0.20, "us": 0.0}


def subtotal(lines):
    """Sum of quantity times unit price."""
    return round(sum(qty * price for qty, price in lines), 2)


def with_tax(amount, country):
    """Add the country's sales tax."""
    try:
        rate = TAX_RATES[country]
    except KeyError:
        raise ValueError(f"no tax rate for {country!r}") from None
    return round(amount * (1 + rate), 2)


def discount(amount, percent):
    """Apply a percentage discount."""
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return round(amount * (100 - percent) / 100, 2)


def cache_key(order_id):
    """Short cache key for an order (not a security boundary)."""
    return hashlib.md5(order_id.encode(), usedforsecurity=False).hexdigest()[:12]


def sample_for_audit(order_ids, k):
    """Pick orders for a manual audit."""
    return random.sample(order_ids, min(k, len(order_ids)))
