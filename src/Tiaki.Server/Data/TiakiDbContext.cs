using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Tiaki.Server.Data;

/// <remarks>
/// One model, two providers: <see cref="SqliteTiakiDbContext"/> and <see cref="PostgresTiakiDbContext"/> each own a
/// migration set, because migrations are provider-specific SQL.
/// </remarks>
internal abstract class TiakiDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<AgentEntity> Agents => Set<AgentEntity>();
    public DbSet<EnrollmentTokenEntity> EnrollmentTokens => Set<EnrollmentTokenEntity>();
    public DbSet<ContainerEntity> Containers => Set<ContainerEntity>();
    public DbSet<UpdateEntity> Updates => Set<UpdateEntity>();
    public DbSet<CommandEntity> Commands => Set<CommandEntity>();
    public DbSet<AuditEntity> Audit => Set<AuditEntity>();
    public DbSet<NotificationChannelEntity> NotificationChannels => Set<NotificationChannelEntity>();
    public DbSet<NotificationDeliveryEntity> NotificationDeliveries => Set<NotificationDeliveryEntity>();
    public DbSet<NotificationAttemptEntity> NotificationAttempts => Set<NotificationAttemptEntity>();
    public DbSet<PolicyEntity> Policies => Set<PolicyEntity>();

    public abstract bool IsPostgres { get; }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // SQLite cannot compare or order DateTimeOffset; UTC ticks as a 64-bit integer sort and compare on both.
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<UtcTicksConverter>();
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<AgentEntity>(e =>
        {
            e.ToTable("agents");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(40);
            e.Property(x => x.Name).HasMaxLength(200);
            e.Property(x => x.Type).HasMaxLength(10);
            e.Property(x => x.KeyPrefix).HasMaxLength(32);
            e.HasIndex(x => x.KeyPrefix).IsUnique();
        });
        modelBuilder.Entity<EnrollmentTokenEntity>(e =>
        {
            e.ToTable("enrollment_tokens");
            e.HasKey(x => x.Id);
            e.Property(x => x.Prefix).HasMaxLength(32);
            e.HasIndex(x => x.Prefix).IsUnique();
        });
        modelBuilder.Entity<ContainerEntity>(e =>
        {
            e.ToTable("containers");
            e.HasKey(x => x.Id);
            e.HasIndex(x => new { x.AgentId, x.ContainerId }).IsUnique();
            e.HasOne<AgentEntity>().WithMany().HasForeignKey(x => x.AgentId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<UpdateEntity>(e =>
        {
            e.ToTable("updates");
            e.HasKey(x => x.Id);
            e.HasIndex(x => new { x.AgentId, x.ContainerId }).IsUnique();
            e.HasIndex(x => x.Status);
            e.HasOne<AgentEntity>().WithMany().HasForeignKey(x => x.AgentId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<CommandEntity>(e =>
        {
            e.ToTable("commands");
            e.HasKey(x => x.Id);
            e.HasIndex(x => new { x.AgentId, x.Status });
            e.HasOne<AgentEntity>().WithMany().HasForeignKey(x => x.AgentId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<AuditEntity>(e =>
        {
            e.ToTable("audit");
            e.HasKey(x => x.Id);
            e.HasIndex(x => x.At);
        });
        modelBuilder.Entity<NotificationChannelEntity>(e =>
        {
            e.ToTable("notification_channels");
            e.HasKey(x => x.Id);
            e.Property(x => x.Name).HasMaxLength(200);
            e.Property(x => x.Kind).HasMaxLength(20);
            e.HasIndex(x => x.Name).IsUnique();
        });
        modelBuilder.Entity<NotificationDeliveryEntity>(e =>
        {
            e.ToTable("notification_deliveries");
            e.HasKey(x => x.Id);
            e.Property(x => x.Status).HasMaxLength(20);
            // The dispatcher's claim query: due pending rows and expired leases.
            e.HasIndex(x => new { x.Status, x.NextAttemptAt });
            e.HasIndex(x => x.ChannelId);
        });
        modelBuilder.Entity<NotificationAttemptEntity>(e =>
        {
            e.ToTable("notification_attempts");
            e.HasKey(x => x.Id);
            e.HasIndex(x => x.DeliveryId);
            e.HasOne<NotificationDeliveryEntity>().WithMany().HasForeignKey(x => x.DeliveryId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<PolicyEntity>(e =>
        {
            e.ToTable("policies");
            e.HasKey(x => x.Id);
            e.Property(x => x.Name).HasMaxLength(200);
            e.HasIndex(x => x.Name).IsUnique();
            e.HasOne<AgentEntity>().WithMany().HasForeignKey(x => x.AgentId).OnDelete(DeleteBehavior.Cascade);
        });
    }

    private sealed class UtcTicksConverter() : ValueConverter<DateTimeOffset, long>(
        v => v.UtcTicks,
        v => new DateTimeOffset(v, TimeSpan.Zero));
}

internal sealed class SqliteTiakiDbContext(DbContextOptions<SqliteTiakiDbContext> options) : TiakiDbContext(options)
{
    public override bool IsPostgres => false;
}

internal sealed class PostgresTiakiDbContext(DbContextOptions<PostgresTiakiDbContext> options) : TiakiDbContext(options)
{
    public override bool IsPostgres => true;
}
