"""Benchmarks: django-expect against stock gunicorn (and Django under uvicorn). `make bench`."""
