namespace Xcos.ML.PgVector.Tests;

/// <summary>The gallery URI: libpq's form, a password never kept or shown, a table name that is a plain identifier.</summary>
public sealed class PgVectorGalleryLocationTests
{
    [Fact]
    public void The_libpq_uri_form_is_read()
    {
        var l = PgVectorGalleryLocation.Parse("postgresql://ann@db.example:6543/faces?table=staff&sslmode=require");
        Assert.Equal([("db.example", 6543)], l.Hosts);
        Assert.Equal("ann", l.User);
        Assert.Equal("faces", l.Database);
        Assert.Equal("staff", l.Table);
        Assert.Equal("require", l.Parameters["sslmode"]);
        Assert.False(l.PasswordDropped);
        Assert.Equal("postgresql://ann@db.example:6543/faces?table=staff&sslmode=require", l.ToString());
        var d = PgVectorGalleryLocation.Parse("postgres://h1,h2:5433/x");
        Assert.Equal([("h1", 5432), ("h2", 5433)], d.Hosts);
        Assert.Equal(PgVectorGalleryLocation.DefaultTable, d.Table);
    }

    [Theory]
    [InlineData("postgresql://ann:s3cret-Horse@host:5432/db?table=t")]
    [InlineData("postgresql://ann@host:5432/db?table=t&password=s3cret-Horse")]
    public void A_password_in_the_uri_is_dropped_and_never_shown(string uri)
    {
        var l = PgVectorGalleryLocation.Parse(uri);
        Assert.True(l.PasswordDropped);
        Assert.DoesNotContain("s3cret", l.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", l.ConnectionString(), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", new PgVectorGalleryProvider().Display(uri), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("postgresql://h/db?table=Faces")]
    [InlineData("postgresql://h/db?table=faces;drop table x")]
    [InlineData("postgresql://h/db?table=\"x\"")]
    [InlineData("postgresql://h/db?table=1faces")]
    [InlineData("postgresql://h/db?table=")]
    [InlineData("postgresql://h:99999/db")]
    [InlineData("postgresql://h/db?tabel=faces")]
    public void A_bad_uri_is_refused_with_one_line(string uri)
    {
        var e = Assert.Throws<FormatException>(() => PgVectorGalleryLocation.Parse(uri));
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Ef_search_is_never_below_the_faces_asked_for_and_grows_with_the_recall_target()
    {
        Assert.True(PgVectorFaceGallery.EfSearchFor(500, 0.9) >= 500);
        Assert.Equal(1000, PgVectorFaceGallery.EfSearchFor(5000, 0.99));
        Assert.True(PgVectorFaceGallery.EfSearchFor(20, 0.999) > PgVectorFaceGallery.EfSearchFor(20, 0.9));
        Assert.True(PgVectorFaceGallery.EfSearchFor(1, 0.5) >= 1);
    }
}
