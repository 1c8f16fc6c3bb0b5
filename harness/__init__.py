"""What the tests, bench/ and stress/ share (not shipped: the wheel holds ``django_expect`` only).

``process`` (the one launcher: log file, wait until serving, stop by PID), ``server`` (gunicorn),
``asgi_servers``, ``wsgi_servers`` (runserver, waitress, mod_wsgi, uWSGI), ``postgres``;
``relay`` (the byte-counting relay), ``raw`` (raw-socket HTTP/1.1), ``fds`` (file descriptors),
``tools`` (skip-or-fail on missing programs, polling, free ports), ``fuzz`` (generated exchanges),
``browsers``/``drain_browsers``/``node_driver`` (real browsers); ``stock_gunicorn``,
``stock_runserver`` and ``plain_wsgi`` are the controls' server modules.
"""
