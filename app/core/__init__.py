"""Infrastructure every feature uses: settings, database, auth, errors, middleware, idempotency, ids, time,
logging, background loops, health. Nothing here imports a feature."""
