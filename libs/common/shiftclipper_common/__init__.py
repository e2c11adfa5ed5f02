"""Thin adapters shared by the services: logging, the NATS bus, the S3 object store, metrics."""
