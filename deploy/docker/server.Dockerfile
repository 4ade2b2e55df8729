# Tiaki control plane (ASP.NET Core). Build from the repository root:
#   docker build -f deploy/docker/server.Dockerfile -t tiaki-server .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files only, so a source change does not re-download packages.
COPY Directory.Build.props Directory.Packages.props ./
COPY src/Tiaki.Contracts/Tiaki.Contracts.csproj src/Tiaki.Contracts/
COPY src/Tiaki.Server/Tiaki.Server.csproj src/Tiaki.Server/
RUN dotnet restore src/Tiaki.Server/Tiaki.Server.csproj
COPY src/Tiaki.Contracts/ src/Tiaki.Contracts/
COPY src/Tiaki.Server/ src/Tiaki.Server/
RUN dotnet publish src/Tiaki.Server/Tiaki.Server.csproj -c Release --no-restore -o /app /p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS final
WORKDIR /app
COPY --from=build /app ./
# SQLite database and generated secrets live here unless DATABASE_URL points at PostgreSQL.
ENV PORT=3001 \
    TIAKI_DATA_DIR=/var/lib/tiaki \
    DOTNET_gcServer=0
RUN mkdir -p /var/lib/tiaki && chown 1654:1654 /var/lib/tiaki
VOLUME /var/lib/tiaki
EXPOSE 3001
# The "app" user (uid 1654) the .NET images ship; numeric so Kubernetes' runAsNonRoot can verify it.
USER 1654:1654
ENTRYPOINT ["dotnet", "Tiaki.Server.dll"]
