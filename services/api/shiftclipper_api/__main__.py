"""Run the gateway: `python -m shiftclipper_api`."""

from __future__ import annotations

import uvicorn

from shiftclipper_common.logs import configure_logging
from shiftclipper_common.service import load_config_or_exit
from shiftclipper_contracts.config import public_config

from .app import create_app


def main() -> None:
    config = load_config_or_exit("api")
    log = configure_logging("api", config.log_json, config.log_level)
    log.info("starting", config=public_config(config))
    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        access_log=False,  # our own logs never carry query strings (which may hold an api_key)
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
