"""lambdalet's stand-in for the Greengrass V1 runtime's `greengrass_ipc_python_sdk` package."""
