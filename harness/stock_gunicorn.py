"""An empty gunicorn config: stock gunicorn, without django-expect's hooks (for comparisons)."""
