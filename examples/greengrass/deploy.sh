#!/bin/sh
# Builds the Lambda component's artifact (a zip of lambda-src/) and deploys both components
# with the Greengrass CLI's flags. Run it with a daemon up (`make up` or `lambdalet up`).
set -eu
cd "$(dirname "$0")"
mkdir -p artifacts/com.example.TemperatureAlert/1.0.0
rm -f artifacts/com.example.TemperatureAlert/1.0.0/temperature-alert.zip
(cd lambda-src && python3 -m zipfile -c ../artifacts/com.example.TemperatureAlert/1.0.0/temperature-alert.zip app.py)
LAMBDALET=${LAMBDALET:-lambdalet}
"$LAMBDALET" deployment create \
  --recipeDir recipes \
  --artifactDir artifacts \
  --merge com.example.TemperatureAlert=1.0.0 \
  --merge com.example.Logger=1.0.0 \
  --wait
"$LAMBDALET" component list
