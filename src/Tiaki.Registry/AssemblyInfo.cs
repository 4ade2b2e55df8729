using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Tiaki.Registry.Tests")]
