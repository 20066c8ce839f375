"""lambdalet's stand-in for the Greengrass V1 runtime's `greengrass_common` package."""
