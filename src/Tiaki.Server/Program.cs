using Tiaki.Server;
using Tiaki.Server.Components;

var builder = WebApplication.CreateBuilder(args);
builder.AddTiakiServer();
builder.AddDashboard();

var app = builder.Build();
app.UseTiakiServer();
app.MapAgentApi();
app.MapAdminApi();
app.MapOperationsEndpoints();
app.MapDashboard();
app.Run();

public partial class Program;
