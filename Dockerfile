# The image deploy/compose.yaml runs (healthpass:latest): the API, the workers, the Prefect
# server processes and the migrate step all run from it, so client and server Prefect match.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# pyproject's packages (tool.setuptools: cases, sla, api, ui, web, flows, tasks, workers, ops) and their package data.
COPY pyproject.toml ./
COPY api ./api
COPY cases ./cases
COPY flows ./flows
COPY ops ./ops
COPY sla ./sla
COPY tasks ./tasks
COPY ui ./ui
COPY web ./web
COPY workers ./workers
COPY deploy/prefect.yaml ./prefect.yaml
RUN pip install .

# Not root: the processes need only /data (keys, secrets: a volume) and their Prefect home.
RUN useradd --create-home --uid 10001 app && mkdir -p /data && chown app /data
USER app
ENV HEALTHPASS_DATA_DIR=/data PREFECT_HOME=/home/app/.prefect
EXPOSE 8000 4200
CMD ["healthpass", "worker"]
