"""The shiftclipper command line and the embedded local stack."""
