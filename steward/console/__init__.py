"""The web console: server-rendered pages over the same API everyone else uses.

How it is built, and why (docs/console.md tells users what it does):

- **Pages are Jinja2 templates, updated in part with htmx.** No Node toolchain is needed to
  install or run it; the few browser libraries it uses are vendored in ``static/vendor``,
  pinned in ``VENDOR.json`` and fetched by ``scripts/refresh_console_vendor.py``, so the
  console works offline and no request leaves the machine.
- **Everything goes through the API.** A console page does not read the database or call
  a service: it calls the REST routes in-process (:mod:`steward.console.api`), as the
  signed-in user, with the browser's user agent. So each thing shown or changed is
  authenticated, authorized and audited exactly as the same call from the CLI or an SDK
  would be, and the audit log names the console as the client.
- **A session is a token.** Signing in with a personal access token creates a short-lived
  token of the same user through the API (``createToken``, comment ``console session``),
  kept only in an HttpOnly, SameSite=Strict cookie (Secure over TLS); signing out revokes
  it. Forms carry a CSRF token derived from the session (:mod:`steward.console.session`).
"""
