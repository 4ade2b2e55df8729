# Tiaki Kubernetes agent, NativeAOT on a distroless base. Build from the repository root:
#   docker build -f deploy/docker/agent-k8s.Dockerfile -t tiaki-agent-k8s .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# NativeAOT links with clang and needs zlib.
RUN apt-get update && apt-get install -y --no-install-recommends clang zlib1g-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props ./
COPY src/Tiaki.Contracts/Tiaki.Contracts.csproj src/Tiaki.Contracts/
COPY src/Tiaki.Registry/Tiaki.Registry.csproj src/Tiaki.Registry/
COPY src/Tiaki.Agent.Core/Tiaki.Agent.Core.csproj src/Tiaki.Agent.Core/
COPY src/Tiaki.Agent.Kubernetes/Tiaki.Agent.Kubernetes.csproj src/Tiaki.Agent.Kubernetes/
RUN dotnet restore src/Tiaki.Agent.Kubernetes/Tiaki.Agent.Kubernetes.csproj -r linux-x64
COPY src/Tiaki.Contracts/ src/Tiaki.Contracts/
COPY src/Tiaki.Registry/ src/Tiaki.Registry/
COPY src/Tiaki.Agent.Core/ src/Tiaki.Agent.Core/
COPY src/Tiaki.Agent.Kubernetes/ src/Tiaki.Agent.Kubernetes/
RUN dotnet publish src/Tiaki.Agent.Kubernetes/Tiaki.Agent.Kubernetes.csproj -c Release -r linux-x64 --no-restore -o /app \
 && rm -f /app/*.dbg /app/*.pdb

# Chiseled runtime-deps: no shell, no package manager, CA certificates included, non-root "app" user.
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled AS final
COPY --from=build /app/tiaki-agent-k8s /usr/local/bin/tiaki-agent-k8s
ENV AGENT_STATE_DIR=/var/lib/tiaki-agent
USER 1654:1654
ENTRYPOINT ["/usr/local/bin/tiaki-agent-k8s"]
