using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Agt
{
    /// <summary>The kinds of JSON value.</summary>
    public enum JsonKind { Null, Bool, Number, String, Array, Object }

    /// <summary>
    /// A JSON value that keeps each number's spelling (<c>5</c> is an int to a policy, <c>5.0</c> a
    /// double) and each object's key order. Reading refuses duplicate keys, so what a harness or a
    /// trail tool reads is what the engine reads.
    /// </summary>
    public sealed class JsonValue
    {
        public JsonKind Kind { get; private set; }
        bool flag;
        string text; // string value or number token
        List<JsonValue> items;
        List<KeyValuePair<string, JsonValue>> members;

        JsonValue(JsonKind kind) { Kind = kind; }

        public static readonly JsonValue Null = new JsonValue(JsonKind.Null);
        public static JsonValue Bool(bool value) { return new JsonValue(JsonKind.Bool) { flag = value }; }
        public static JsonValue String(string value) { return new JsonValue(JsonKind.String) { text = value }; }

        /// <summary>A number from its JSON token, e.g. "5", "5.0", "1e3".</summary>
        public static JsonValue Number(string token) { return new JsonValue(JsonKind.Number) { text = token }; }
        public static JsonValue Array(IEnumerable<JsonValue> items) { return new JsonValue(JsonKind.Array) { items = new List<JsonValue>(items) }; }
        public static JsonValue Object(IEnumerable<KeyValuePair<string, JsonValue>> members)
        {
            return new JsonValue(JsonKind.Object) { members = new List<KeyValuePair<string, JsonValue>>(members) };
        }

        public bool AsBool { get { Expect(JsonKind.Bool); return flag; } }
        public string AsString { get { Expect(JsonKind.String); return text; } }
        public string NumberToken { get { Expect(JsonKind.Number); return text; } }
        public IList<JsonValue> Items { get { Expect(JsonKind.Array); return items.AsReadOnly(); } }
        public IList<KeyValuePair<string, JsonValue>> Members { get { Expect(JsonKind.Object); return members.AsReadOnly(); } }

        /// <summary>True when the number token has no fraction or exponent (a CEL int).</summary>
        public bool IsIntegerToken { get { return Kind == JsonKind.Number && text.IndexOfAny(new[] { '.', 'e', 'E' }) < 0; } }

        public long AsLong { get { Expect(JsonKind.Number); return long.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture); } }
        public double AsDouble { get { Expect(JsonKind.Number); return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture); } }

        /// <summary>The member named <paramref name="key"/>, or null when absent (or not an object).</summary>
        public JsonValue Get(string key)
        {
            if (Kind != JsonKind.Object) return null;
            foreach (var m in members) if (m.Key == key) return m.Value;
            return null;
        }

        public bool Has(string key) { return Get(key) != null; }

        void Expect(JsonKind kind)
        {
            if (Kind != kind) throw new InvalidOperationException("JSON value is " + Kind + ", not " + kind);
        }

        /// <summary>Compact JSON text (numbers as spelt, keys in their order).</summary>
        public override string ToString()
        {
            var sb = new StringBuilder();
            Write(sb);
            return sb.ToString();
        }

        public void Write(StringBuilder sb)
        {
            switch (Kind)
            {
                case JsonKind.Null: sb.Append("null"); break;
                case JsonKind.Bool: sb.Append(flag ? "true" : "false"); break;
                case JsonKind.Number: sb.Append(text); break;
                case JsonKind.String: WriteString(sb, text); break;
                case JsonKind.Array:
                    sb.Append('[');
                    for (int i = 0; i < items.Count; i++) { if (i > 0) sb.Append(','); items[i].Write(sb); }
                    sb.Append(']');
                    break;
                default:
                    sb.Append('{');
                    for (int i = 0; i < members.Count; i++)
                    {
                        if (i > 0) sb.Append(',');
                        WriteString(sb, members[i].Key);
                        sb.Append(':');
                        members[i].Value.Write(sb);
                    }
                    sb.Append('}');
                    break;
            }
        }

        /// <summary>A JSON string literal (quotes, backslashes and controls escaped; the rest literal).</summary>
        public static void WriteString(StringBuilder sb, string value)
        {
            sb.Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }

        public static string Quote(string value)
        {
            var sb = new StringBuilder();
            WriteString(sb, value);
            return sb.ToString();
        }

        /// <summary>Reads one JSON value (RFC 8259); anything after it but whitespace is an error.</summary>
        /// <exception cref="FormatException">The text is not JSON, or an object repeats a key.</exception>
        public static JsonValue Parse(string json)
        {
            var reader = new Reader(json);
            reader.SkipSpace();
            var value = reader.Value(0);
            reader.SkipSpace();
            if (reader.Pos != json.Length) throw reader.Fail("unexpected text after the value");
            return value;
        }

        sealed class Reader
        {
            readonly string s;
            public int Pos;
            public Reader(string s) { this.s = s; }

            public FormatException Fail(string why) { return new FormatException("invalid JSON at offset " + Pos + ": " + why); }

            public void SkipSpace()
            {
                while (Pos < s.Length && (s[Pos] == ' ' || s[Pos] == '\t' || s[Pos] == '\n' || s[Pos] == '\r')) Pos++;
            }

            public JsonValue Value(int depth)
            {
                if (depth > 512) throw Fail("nested too deeply");
                if (Pos >= s.Length) throw Fail("unexpected end");
                char c = s[Pos];
                if (c == '{') return Obj(depth);
                if (c == '[') return Arr(depth);
                if (c == '"') return String(Str());
                if (c == '-' || (c >= '0' && c <= '9')) return Num();
                if (Literal("true")) return Bool(true);
                if (Literal("false")) return Bool(false);
                if (Literal("null")) return Null;
                throw Fail("unexpected character '" + c + "'");
            }

            bool Literal(string word)
            {
                if (string.CompareOrdinal(s, Pos, word, 0, word.Length) != 0) return false;
                Pos += word.Length;
                return true;
            }

            JsonValue Obj(int depth)
            {
                Pos++;
                var members = new List<KeyValuePair<string, JsonValue>>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                SkipSpace();
                if (Pos < s.Length && s[Pos] == '}') { Pos++; return Object(members); }
                while (true)
                {
                    SkipSpace();
                    if (Pos >= s.Length || s[Pos] != '"') throw Fail("expected a key");
                    string key = Str();
                    if (!seen.Add(key)) throw Fail("duplicate key \"" + key + "\"");
                    SkipSpace();
                    if (Pos >= s.Length || s[Pos] != ':') throw Fail("expected ':'");
                    Pos++;
                    SkipSpace();
                    members.Add(new KeyValuePair<string, JsonValue>(key, Value(depth + 1)));
                    SkipSpace();
                    if (Pos < s.Length && s[Pos] == ',') { Pos++; continue; }
                    if (Pos < s.Length && s[Pos] == '}') { Pos++; return Object(members); }
                    throw Fail("expected ',' or '}'");
                }
            }

            JsonValue Arr(int depth)
            {
                Pos++;
                var items = new List<JsonValue>();
                SkipSpace();
                if (Pos < s.Length && s[Pos] == ']') { Pos++; return Array(items); }
                while (true)
                {
                    SkipSpace();
                    items.Add(Value(depth + 1));
                    SkipSpace();
                    if (Pos < s.Length && s[Pos] == ',') { Pos++; continue; }
                    if (Pos < s.Length && s[Pos] == ']') { Pos++; return Array(items); }
                    throw Fail("expected ',' or ']'");
                }
            }

            string Str()
            {
                Pos++;
                var sb = new StringBuilder();
                while (true)
                {
                    if (Pos >= s.Length) throw Fail("unterminated string");
                    char c = s[Pos++];
                    if (c == '"') return sb.ToString();
                    if (c < 0x20) throw Fail("control character in a string");
                    if (c != '\\') { sb.Append(c); continue; }
                    if (Pos >= s.Length) throw Fail("unterminated escape");
                    char e = s[Pos++];
                    switch (e)
                    {
                        case '"': sb.Append('"'); break;
                        case '\\': sb.Append('\\'); break;
                        case '/': sb.Append('/'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'n': sb.Append('\n'); break;
                        case 'r': sb.Append('\r'); break;
                        case 't': sb.Append('\t'); break;
                        case 'u':
                            if (Pos + 4 > s.Length) throw Fail("short \\u escape");
                            int code;
                            if (!int.TryParse(s.Substring(Pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out code))
                                throw Fail("invalid \\u escape");
                            sb.Append((char)code);
                            Pos += 4;
                            break;
                        default: throw Fail("invalid escape");
                    }
                }
            }

            JsonValue Num()
            {
                int start = Pos;
                if (s[Pos] == '-') Pos++;
                if (Pos >= s.Length) throw Fail("invalid number");
                if (s[Pos] == '0') Pos++;
                else if (s[Pos] >= '1' && s[Pos] <= '9') while (Pos < s.Length && char.IsDigit(s[Pos]) && s[Pos] < 128) Pos++;
                else throw Fail("invalid number");
                if (Pos < s.Length && s[Pos] == '.')
                {
                    Pos++;
                    int digits = Pos;
                    while (Pos < s.Length && s[Pos] >= '0' && s[Pos] <= '9') Pos++;
                    if (Pos == digits) throw Fail("invalid number");
                }
                if (Pos < s.Length && (s[Pos] == 'e' || s[Pos] == 'E'))
                {
                    Pos++;
                    if (Pos < s.Length && (s[Pos] == '+' || s[Pos] == '-')) Pos++;
                    int digits = Pos;
                    while (Pos < s.Length && s[Pos] >= '0' && s[Pos] <= '9') Pos++;
                    if (Pos == digits) throw Fail("invalid number");
                }
                return Number(s.Substring(start, Pos - start));
            }
        }
    }
}
