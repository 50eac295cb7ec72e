using System.Text;
using System.Text.Json;

namespace Xcos.ML.Torch.Config;

/// <summary>
/// Finds a key given twice in one JSON object: System.Text.Json silently keeps the last value, so a config that sets
/// <c>lr</c> twice would train with whichever came last without a word.
/// </summary>
internal static class JsonDuplicateKeys
{
    /// <summary>
    /// The dotted path of the first key that appears twice in the same object (keys compared with
    /// <paramref name="comparer"/>), or null. Malformed JSON yields null: the parser that follows reports it.
    /// </summary>
    public static string? Find(string json, StringComparer comparer)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json), new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        // one frame per open object or array: the keys seen (null for an array) and the path to it
        var frames = new Stack<(HashSet<string>? Keys, string Path)>();
        string? pending = null;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        string path = frames.Count == 0 ? "" : Join(frames.Peek().Path, pending ?? "[]");
                        frames.Push((reader.TokenType == JsonTokenType.StartObject ? new HashSet<string>(comparer) : null, path));
                        pending = null;
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        frames.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                        string key = reader.GetString()!;
                        var (keys, at) = frames.Peek();
                        if (!keys!.Add(key)) return Join(at, key);
                        pending = key;
                        break;
                    default:
                        pending = null;
                        break;
                }
            }
        }
        catch (JsonException) { return null; }
        return null;
    }

    private static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;
}
