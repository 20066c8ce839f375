"""Environment of a Greengrass Lambda, as `greengrasssdk` reads it."""
import os

AUTH_TOKEN = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
MY_FUNCTION_ARN = os.environ.get("MY_FUNCTION_ARN", "")
SHADOW_FUNCTION_ARN = os.environ.get("SHADOW_FUNCTION_ARN", "arn:aws:lambda:::function:GGShadowService")
ROUTER_FUNCTION_ARN = os.environ.get("ROUTER_FUNCTION_ARN", "arn:aws:lambda:::function:GGRouter")
SECRETS_MANAGER_FUNCTION_ARN = os.environ.get(
    "SECRETS_MANAGER_FUNCTION_ARN", "arn:aws:lambda:::function:GGSecretManager:1"
)
GG_DAEMON_PORT = os.environ.get("GG_DAEMON_PORT", "")
