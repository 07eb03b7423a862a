"""The web app under /app: server-rendered pages for contributors, sellers and analysts.

Routers here call the same services as the REST API (no second copy of a rule) and render Jinja2 templates;
every script and stylesheet is a file under ``static/`` (the service works offline).
"""
