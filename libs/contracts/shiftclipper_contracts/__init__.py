"""ShiftClipper contracts: every message, status record, setup field and name the services share."""
