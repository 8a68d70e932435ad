"""gunicorn's settings for this project. gunicorn reads ./gunicorn.conf.py from the
directory it starts in (`make run`, the Procfile); settings on its command line win.

- Its own error answers (a request line over limit_request_line, 4094 characters,
  which we keep: thread keys are limited to fit it, domain/rules.py) are written in
  the API's JSON error shape, not as an HTML page (web/server_errors.py)."""


def post_worker_init(worker) -> None:
    from web.server_errors import install

    install()
