"""Parsing of Lambda function ARNs, as `greengrasssdk.Lambda` uses it."""


class FunctionArnFields:
    """The parts of `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`."""

    def __init__(self, function_arn):
        parts = function_arn.split(":")
        if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda" or parts[5] != "function":
            raise ValueError("Cannot parse given string as a function ARN: {}".format(function_arn))
        self.partition = parts[1]
        self.region = parts[3]
        self.account_id = parts[4]
        self.name = parts[6]
        self.qualifier = parts[7] if len(parts) > 7 else None
        self.unqualified_arn = ":".join(parts[:7])

    @staticmethod
    def build_arn_string(partition, region, account_id, name, qualifier):
        arn = "arn:{}:lambda:{}:{}:function:{}".format(partition, region, account_id, name)
        return arn + ":" + qualifier if qualifier else arn

    @staticmethod
    def build_function_arn(unqualified_arn, qualifier=None):
        return unqualified_arn + ":" + qualifier if qualifier else unqualified_arn
