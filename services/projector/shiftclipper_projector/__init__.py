"""The projector: the one writer of job status records."""
