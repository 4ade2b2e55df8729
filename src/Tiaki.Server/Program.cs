using Tiaki.Server;

var builder = WebApplication.CreateBuilder(args);
builder.AddTiakiServer();

var app = builder.Build();
app.UseTiakiServer();
app.MapAgentApi();
app.MapAdminApi();
app.MapOperationsEndpoints();
app.Run();

public partial class Program;
