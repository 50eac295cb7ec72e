using System.Data;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Npgsql;
using NpgsqlTypes;
using Xcos.ML.Gallery;

namespace Xcos.ML.PgVector;

/// <summary>
/// An <see cref="IFaceGallery"/> in PostgreSQL with pgvector: every process that names the same database and table
/// sees the same faces, and an enrolment is committed whole (embedding and face code in one row) or not at all.
/// </summary>
/// <remarks>
/// <para>Schema (format 1), both tables named from the validated table name <c>T</c> and always quoted:</para>
/// <code>
/// "T"      (id bigint identity primary key, identity text, embedding vector(D), code real[], source_file text,
///           content_hash bytea, enrolled_at timestamptz, unique (identity, content_hash))
///           + "T_hnsw": hnsw (embedding vector_cosine_ops); "T_identity": btree (identity)
/// "T_meta" (one row: format, model_name, model_hash, embedding_dim, code_length, codes, created_at)
/// </code>
/// <para><c>code</c> is the face code the pair head reads (xCos explanations and re-ranking), exactly as the gallery file
/// stores it. <c>content_hash</c> is the SHA-256 of the photo's bytes (of the embedding when the photo cannot be read), so
/// enrolling the same photo of the same identity again adds nothing. The metadata row carries the same
/// <see cref="GalleryModelStamp"/> as a gallery file; another model, dimension or code layout is refused.</para>
/// <para>Thread-safe: each call takes a pooled connection of its own and runs as one transaction. Vectors cross the wire as
/// <c>real[]</c> and are cast by pgvector (<c>::vector</c>, <c>::real[]</c>), so a connection needs no type-loading round trip.</para>
/// </remarks>
public sealed class PgVectorFaceGallery : IFaceGallery
{
    /// <summary>Version of the table layout, stored in the metadata row.</summary>
    public const int FormatVersion = 1;

    private readonly NpgsqlDataSource _source;
    private readonly PgVectorGalleryOptions _options;
    private readonly bool _readOnly;
    private readonly string _faces, _meta;

    private PgVectorFaceGallery(PgVectorGalleryLocation location, NpgsqlDataSource source, GalleryModelStamp model, PgVectorGalleryOptions options, bool readOnly)
    {
        Location = location;
        _source = source;
        Model = model;
        _options = options;
        _readOnly = readOnly;
        _faces = Quote(location.Table);
        _meta = Quote(location.Table + "_meta");
    }

    /// <summary>Where the gallery lives (printable: holds no password).</summary>
    public PgVectorGalleryLocation Location { get; }

    /// <inheritdoc/>
    public GalleryModelStamp Model { get; }

    /// <summary>
    /// Opens the gallery at <paramref name="location"/>; with <see cref="GalleryOpenMode.OpenOrCreate"/> a missing one
    /// is created for <paramref name="model"/> (and the <c>vector</c> extension with it, when the user may).
    /// </summary>
    /// <exception cref="GalleryUnavailableException">Server unreachable, authentication refused, no <c>vector</c> extension, or no such gallery.</exception>
    /// <exception cref="InvalidDataException">The table was built with another face model, or is not an xcos gallery.</exception>
    public static PgVectorFaceGallery Open(PgVectorGalleryLocation location, GalleryModelStamp? model, GalleryOpenMode mode, PgVectorGalleryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(location);
        options ??= new PgVectorGalleryOptions();
        options.Validate();
        if (mode == GalleryOpenMode.OpenOrCreate) ArgumentNullException.ThrowIfNull(model);
        var builder = new NpgsqlDataSourceBuilder(location.ConnectionString());
        // vectors travel as real[] with pgvector's casts: no type-loading queries when a connection opens
        builder.ConfigureTypeLoading(t => t.EnableTypeLoading(false));
        var source = builder.Build();
        try
        {
            var stamp = PgVectorErrors.Run(location, "opening the gallery", () => Prepare(source, location, model, mode));
            return new PgVectorFaceGallery(location, source, stamp, options, mode == GalleryOpenMode.ReadOnly);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    private static GalleryModelStamp Prepare(NpgsqlDataSource source, PgVectorGalleryLocation location, GalleryModelStamp? model, GalleryOpenMode mode)
    {
        using var conn = PgVectorErrors.Connect(source, location);
        string faces = Quote(location.Table), meta = Quote(location.Table + "_meta");
        using var tx = conn.BeginTransaction();
        EnsureVectorExtension(conn, location, create: mode == GalleryOpenMode.OpenOrCreate);
        var stamp = ReadStamp(conn, location);
        if (stamp is null)
        {
            if (mode != GalleryOpenMode.OpenOrCreate)
                throw new GalleryUnavailableException($"{location}: no gallery table '{location.Table}' in database '{location.Database}' (create it with `xcos enroll`)");
            // two processes creating the same gallery at once: the second waits here, then finds the first one's tables
            Exec(conn, tx, "SELECT pg_advisory_xact_lock(hashtext(@t))", ("t", location.Table));
            Exec(conn, tx, $"""
                CREATE TABLE IF NOT EXISTS {meta} (
                  one boolean PRIMARY KEY DEFAULT true CHECK (one),
                  format integer NOT NULL, model_name text NOT NULL, model_hash text NOT NULL,
                  embedding_dim integer NOT NULL, code_length integer NOT NULL, codes text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())
                """);
            Exec(conn, tx, $"INSERT INTO {meta} (format, model_name, model_hash, embedding_dim, code_length, codes) VALUES (@f, @n, @h, @d, @c, @k) ON CONFLICT (one) DO NOTHING",
                ("f", FormatVersion), ("n", model!.Name), ("h", model.Hash), ("d", model.EmbeddingDim), ("c", model.CodeLength), ("k", model.Codes));
            // the dimension is an integer of the model stamp, not input text
            Exec(conn, tx, $"""
                CREATE TABLE IF NOT EXISTS {faces} (
                  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                  identity text NOT NULL,
                  embedding vector({model.EmbeddingDim.ToString(System.Globalization.CultureInfo.InvariantCulture)}) NOT NULL,
                  code real[] NOT NULL,
                  source_file text NOT NULL,
                  content_hash bytea NOT NULL,
                  enrolled_at timestamptz NOT NULL DEFAULT now(),
                  UNIQUE (identity, content_hash))
                """);
            Exec(conn, tx, $"CREATE INDEX IF NOT EXISTS {Quote(location.Table + "_hnsw")} ON {faces} USING hnsw (embedding vector_cosine_ops)");
            Exec(conn, tx, $"CREATE INDEX IF NOT EXISTS {Quote(location.Table + "_identity")} ON {faces} (identity)");
            stamp = ReadStamp(conn, location)!;
        }
        if (model is not null) stamp.CheckSame(model, location.ToString());
        tx.Commit();
        return stamp;
    }

    private static void EnsureVectorExtension(NpgsqlConnection conn, PgVectorGalleryLocation location, bool create)
    {
        using (var check = new NpgsqlCommand("SELECT count(*) FROM pg_extension WHERE extname = 'vector'", conn))
            if ((long)check.ExecuteScalar()! > 0) return;
        string need = $"{location}: database '{location.Database}' has no `vector` extension (pgvector); run `CREATE EXTENSION vector;` in it as its owner or a superuser";
        if (!create) throw new GalleryUnavailableException(need);
        try
        {
            using var cmd = new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS vector", conn);
            cmd.ExecuteNonQuery();
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedFile or PostgresErrorCodes.FeatureNotSupported)
        {
            throw new GalleryUnavailableException(need.Replace("; run", "; install pgvector on the server, then run", StringComparison.Ordinal), e);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new GalleryUnavailableException(need + $" (user '{conn.UserName}' may not create it)", e);
        }
    }

    private static GalleryModelStamp? ReadStamp(NpgsqlConnection conn, PgVectorGalleryLocation location)
    {
        using (var exists = new NpgsqlCommand("SELECT to_regclass(@m) IS NOT NULL, to_regclass(@f) IS NOT NULL", conn))
        {
            exists.Parameters.AddWithValue("m", Quote(location.Table + "_meta"));
            exists.Parameters.AddWithValue("f", Quote(location.Table));
            using var r = exists.ExecuteReader();
            r.Read();
            bool meta = r.GetBoolean(0), faces = r.GetBoolean(1);
            if (!meta && faces)
                throw new InvalidDataException($"{location}: table '{location.Table}' exists but is not an xcos gallery (no '{location.Table}_meta' row); name another table (?table=NAME)");
            if (!meta) return null;
        }
        using var cmd = new NpgsqlCommand($"SELECT format, model_name, model_hash, embedding_dim, code_length, codes FROM {Quote(location.Table + "_meta")}", conn);
        using var reader = cmd.ExecuteReader();
        if (!reader.Read()) throw new InvalidDataException($"{location}: the metadata table '{location.Table}_meta' has no row; the gallery was not created by xcos");
        int format = reader.GetInt32(0);
        if (format != FormatVersion)
            throw new InvalidDataException($"{location}: gallery table format {format}; this version of Xcos.ML.PgVector reads format {FormatVersion}");
        return new GalleryModelStamp(reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetString(5));
    }

    /// <inheritdoc/>
    public int FaceCount => Run("counting faces", conn =>
    {
        using var cmd = new NpgsqlCommand($"SELECT count(*) FROM {_faces}", conn);
        return checked((int)(long)cmd.ExecuteScalar()!);
    });

    /// <inheritdoc/>
    public IReadOnlyList<string> Identities => Run("listing identities", conn =>
    {
        using var cmd = new NpgsqlCommand($"SELECT DISTINCT identity FROM {_faces}", conn);
        using var r = cmd.ExecuteReader();
        var names = new List<string>();
        while (r.Read()) names.Add(r.GetString(0));
        names.Sort(StringComparer.Ordinal);
        return (IReadOnlyList<string>)names;
    });

    /// <inheritdoc/>
    public IReadOnlyList<GalleryFace> FacesOf(string identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        return Run("reading faces", conn =>
        {
            using var cmd = new NpgsqlCommand($"SELECT id, identity, source_file, embedding::real[], code FROM {_faces} WHERE identity = @i ORDER BY id", conn);
            cmd.Parameters.AddWithValue("i", identity);
            return ReadFaces(cmd);
        });
    }

    /// <inheritdoc/>
    /// <remarks>The same photo (by content) of the same identity is stored once: enrolling it again returns the stored face.</remarks>
    public GalleryFace Enroll(string identity, float[] embedding, float[] code, string sourceFile)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(identity);
        Model.CheckFace(Location.ToString(), embedding, code, sourceFile);
        if (!float.IsFinite(TensorPrimitives.Sum(code))) throw new ArgumentException($"{sourceFile}: the face code is not finite", nameof(code));
        EnsureWritable();
        var hash = ContentHash(sourceFile, embedding);
        return Run($"enrolling {sourceFile} for '{identity}'", conn =>
        {
            // one statement: the row (embedding and code together) is committed whole or not at all
            using var cmd = new NpgsqlCommand($"""
                WITH ins AS (
                  INSERT INTO {_faces} (identity, embedding, code, source_file, content_hash) VALUES (@i, @e::vector, @c, @s, @h)
                  ON CONFLICT (identity, content_hash) DO NOTHING RETURNING id, identity, source_file, embedding::real[], code)
                SELECT id, identity, source_file, embedding::real[], code FROM ins
                UNION ALL
                SELECT id, identity, source_file, embedding::real[], code FROM {_faces} WHERE identity = @i AND content_hash = @h AND NOT EXISTS (SELECT 1 FROM ins)
                """, conn);
            cmd.Parameters.AddWithValue("i", identity);
            cmd.Parameters.AddWithValue("e", embedding);
            cmd.Parameters.AddWithValue("c", code);
            cmd.Parameters.AddWithValue("s", sourceFile);
            cmd.Parameters.AddWithValue("h", hash);
            var stored = ReadFaces(cmd);
            // a concurrent enrolment of the same photo commits between our insert and the read: read it again
            if (stored.Count == 0) return FindByHash(conn, identity, hash);
            return stored[0];
        }, enrolling: true);
    }

    private GalleryFace FindByHash(NpgsqlConnection conn, string identity, byte[] hash)
    {
        using var cmd = new NpgsqlCommand($"SELECT id, identity, source_file, embedding::real[], code FROM {_faces} WHERE identity = @i AND content_hash = @h", conn);
        cmd.Parameters.AddWithValue("i", identity);
        cmd.Parameters.AddWithValue("h", hash);
        return ReadFaces(cmd).Single();
    }

    /// <summary>SHA-256 of the photo's bytes, or of the embedding when the photo cannot be read (a face enrolled from memory).</summary>
    internal static byte[] ContentHash(string sourceFile, float[] embedding)
    {
        try
        {
            if (sourceFile.Length > 0 && File.Exists(sourceFile))
            {
                using var f = File.OpenRead(sourceFile);
                return SHA256.HashData(f);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return SHA256.HashData(MemoryMarshal.AsBytes(embedding.AsSpan()));
    }

    /// <inheritdoc/>
    public int RemoveIdentity(string identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        EnsureWritable();
        return Run($"removing '{identity}'", conn =>
        {
            using var cmd = new NpgsqlCommand($"DELETE FROM {_faces} WHERE identity = @i", conn);
            cmd.Parameters.AddWithValue("i", identity);
            return cmd.ExecuteNonQuery();
        });
    }

    /// <summary>
    /// <c>hnsw.ef_search</c> for a search of <paramref name="faces"/> nearest faces at a recall target: never below the
    /// number asked for, larger for a higher target (a candidate list <paramref name="faces"/> long finds each true neighbour
    /// with the recall of that list's tail), and within pgvector's limit of 1000.
    /// </summary>
    public static int EfSearchFor(int faces, double recallTarget)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(faces, 1);
        // candidates per wanted face; at 4 (ef 80 for 20 faces) identity recall@10 was 0.965 on clustered 512-d
        // embeddings, whose nearest strangers are near-equidistant, HNSW's hardest case (docs/pgvector.md)
        double factor = recallTarget switch { <= 0.9 => 2, <= 0.95 => 4, <= 0.99 => 10, _ => 20 };
        // above 1000 (pgvector's limit) the search turns on iterative scans, which return more than ef_search
        return (int)Math.Min(1000, Math.Max(faces, Math.Max(64, Math.Ceiling(faces * factor))));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Asks the HNSW index for the nearest faces, keeps the best face per identity, and asks for more faces (4x each
    /// round) until <paramref name="top"/> identities are found or every face was seen. The cosine is pgvector's exact
    /// cosine distance on the stored float32 embedding.
    /// </remarks>
    public IReadOnlyList<IdentityCandidate> Search(ReadOnlySpan<float> embedding, int top)
    {
        if (embedding.Length != Model.EmbeddingDim) throw new ArgumentException($"probe embedding has {embedding.Length} values; the gallery holds {Model.EmbeddingDim}-d embeddings");
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        var probe = embedding.ToArray();
        return Run("searching", conn =>
        {
            int want = Math.Max(top * 2, 10);
            while (true)
            {
                var best = new Dictionary<string, (long Id, double Cosine)>(StringComparer.Ordinal);
                int rows = 0;
                {
                    int ef = EfSearchFor(want, _options.RecallTarget);
                    // set_config(..., true) is SET LOCAL: the setting ends with this transaction and reaches no other client
                    Exec(conn, null, "SELECT set_config('hnsw.ef_search', @ef, true), set_config('hnsw.iterative_scan', @it, true)",
                        ("ef", ef.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("it", want > ef ? "strict_order" : "off"));
                    using var cmd = new NpgsqlCommand($"SELECT id, identity, embedding <=> @p::vector AS d FROM {_faces} ORDER BY embedding <=> @p::vector LIMIT @k", conn);
                    cmd.Parameters.AddWithValue("p", probe);
                    cmd.Parameters.AddWithValue("k", want);
                    using (var r = cmd.ExecuteReader())
                    {
                        while (r.Read())
                        {
                            rows++;
                            var who = r.GetString(1);
                            double cos = 1 - r.GetDouble(2);
                            if (!best.TryGetValue(who, out var b) || cos > b.Cosine) best[who] = (r.GetInt64(0), cos);
                        }
                    }
                }
                if (best.Count >= top || rows < want)
                {
                    var chosen = best.OrderByDescending(kv => kv.Value.Cosine).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(top).ToList();
                    if (chosen.Count == 0) return (IReadOnlyList<IdentityCandidate>)[];
                    var faces = ById(conn, chosen.Select(c => c.Value.Id).ToArray());
                    return chosen.Select(c => new IdentityCandidate(c.Key, c.Value.Cosine, faces[c.Value.Id])).ToList();
                }
                want = (int)Math.Min(int.MaxValue / 4, (long)want * 4);
            }
        });
    }

    private Dictionary<long, GalleryFace> ById(NpgsqlConnection conn, long[] ids)
    {
        using var cmd = new NpgsqlCommand($"SELECT id, identity, source_file, embedding::real[], code FROM {_faces} WHERE id = ANY(@ids)", conn);
        cmd.Parameters.AddWithValue("ids", ids);
        return ReadFaces(cmd).ToDictionary(f => f.Id);
    }

    private static List<GalleryFace> ReadFaces(NpgsqlCommand cmd)
    {
        using var r = cmd.ExecuteReader();
        var list = new List<GalleryFace>();
        while (r.Read())
            list.Add(new GalleryFace(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetFieldValue<float[]>(3), r.GetFieldValue<float[]>(4)));
        return list;
    }

    private T Run<T>(string doing, Func<NpgsqlConnection, T> work, bool enrolling = false)
    {
        NpgsqlConnection conn;
        try { conn = PgVectorErrors.Connect(_source, Location); }
        catch (GalleryUnavailableException e) when (enrolling)
        {
            // the server went away between two enrolments: the earlier ones are committed, a rerun finishes the rest
            throw new GalleryUnavailableException($"{e.Message.TrimEnd('?')} (while {doing}): every face stored before it is committed; run the same enrol again to finish (faces already stored are skipped)", e)
            { ConnectionLost = true };
        }
        using (conn)
        {
            return PgVectorErrors.Run(Location, doing, () =>
            {
                // every operation is one transaction: committed whole or not at all, and SET LOCAL settings end with it
                using var tx = conn.BeginTransaction();
                var result = work(conn);
                tx.Commit();
                return result;
            }, connected: true, enrolling);
        }
    }

    private static void Exec(NpgsqlConnection conn, NpgsqlTransaction? tx, string sql, params (string Name, object Value)[] parameters)
    {
        using var cmd = new NpgsqlCommand(sql, conn, tx);
        foreach (var (n, v) in parameters) cmd.Parameters.AddWithValue(n, v);
        cmd.ExecuteNonQuery();
    }

    private void EnsureWritable()
    {
        if (_readOnly) throw new InvalidOperationException($"{Location}: the gallery was opened read-only");
    }

    /// <summary>A validated table name as a quoted identifier (the only text from outside ever placed in SQL).</summary>
    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <inheritdoc/>
    public void Dispose() => _source.Dispose();
}
