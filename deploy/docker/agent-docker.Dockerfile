# Tiaki Docker agent, NativeAOT. Build from the repository root:
#   docker build -f deploy/docker/agent-docker.Dockerfile -t tiaki-agent-docker .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
RUN apt-get update && apt-get install -y --no-install-recommends clang zlib1g-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props ./
COPY src/Tiaki.Contracts/Tiaki.Contracts.csproj src/Tiaki.Contracts/
COPY src/Tiaki.Registry/Tiaki.Registry.csproj src/Tiaki.Registry/
COPY src/Tiaki.Agent.Core/Tiaki.Agent.Core.csproj src/Tiaki.Agent.Core/
COPY src/Tiaki.Agent.Docker/Tiaki.Agent.Docker.csproj src/Tiaki.Agent.Docker/
RUN dotnet restore src/Tiaki.Agent.Docker/Tiaki.Agent.Docker.csproj -r linux-x64
COPY src/Tiaki.Contracts/ src/Tiaki.Contracts/
COPY src/Tiaki.Registry/ src/Tiaki.Registry/
COPY src/Tiaki.Agent.Core/ src/Tiaki.Agent.Core/
COPY src/Tiaki.Agent.Docker/ src/Tiaki.Agent.Docker/
RUN dotnet publish src/Tiaki.Agent.Docker/Tiaki.Agent.Docker.csproj -c Release -r linux-x64 --no-restore -o /app \
 && rm -f /app/*.dbg /app/*.pdb

# The docker CLI and its compose plugin are static Go binaries: taken from the official CLI image
# rather than installing the whole engine package.
FROM docker:27-cli AS dockercli

# Not chiseled: compose updates need `docker compose` and GitOps commits need git (which is not static).
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0-noble AS final
RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/tiaki-agent && chown 1654:1654 /var/lib/tiaki-agent
COPY --from=dockercli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=dockercli /usr/local/libexec/docker/cli-plugins/docker-compose /usr/local/libexec/docker/cli-plugins/docker-compose
COPY --from=build /app/tiaki-agent-docker /usr/local/bin/tiaki-agent-docker
ENV AGENT_STATE_DIR=/var/lib/tiaki-agent
VOLUME /var/lib/tiaki-agent
# Non-root: give the container the docker socket's group (compose: group_add) or use the socket proxy.
USER 1654:1654
ENTRYPOINT ["/usr/local/bin/tiaki-agent-docker"]
