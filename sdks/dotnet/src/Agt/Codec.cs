using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Runtime.Serialization;
using System.Text;

namespace Agt
{
    /// <summary>
    /// Arguments to JSON and back. A double stays a double (<c>1.0</c>, not <c>1</c>: conditions
    /// tell ints and doubles apart), an object's properties are named as declared (or by
    /// [DataMember(Name)]), and anything without a faithful JSON form is refused.
    /// </summary>
    internal static class Codec
    {
        const int MaxDepth = 64;

        internal static string Encode(object value, string where)
        {
            var sb = new StringBuilder();
            Write(sb, value, 0, where);
            return sb.ToString();
        }

        static RequestException Refuse(string where, string why)
        {
            return new RequestException("argument `" + where + "` " + why,
                "pass JSON data: strings, numbers, booleans, lists, dictionaries with string keys and objects of them");
        }

        static void Write(StringBuilder sb, object value, int depth, string where)
        {
            if (depth > MaxDepth) throw Refuse(where, "is nested deeper than " + MaxDepth + " levels");
            if (value == null) { sb.Append("null"); return; }
            var json = value as JsonValue;
            if (json != null) { json.Write(sb); return; }
            var s = value as string;
            if (s != null) { JsonValue.WriteString(sb, s); return; }
            switch (Type.GetTypeCode(value.GetType()))
            {
                case TypeCode.Boolean: sb.Append((bool)value ? "true" : "false"); return;
                case TypeCode.Char: JsonValue.WriteString(sb, value.ToString()); return;
                case TypeCode.SByte: case TypeCode.Byte: case TypeCode.Int16: case TypeCode.UInt16:
                case TypeCode.Int32: case TypeCode.UInt32: case TypeCode.Int64: case TypeCode.UInt64:
                    if (value.GetType().IsEnum) { JsonValue.WriteString(sb, value.ToString()); return; }
                    sb.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
                    return;
                case TypeCode.Single: case TypeCode.Double:
                    double d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                    if (double.IsNaN(d) || double.IsInfinity(d)) throw Refuse(where, "is " + d + ", which has no JSON form");
                    string text = value is float ? ((float)value).ToString("R", CultureInfo.InvariantCulture) : d.ToString("R", CultureInfo.InvariantCulture);
                    if (text.IndexOfAny(new[] { '.', 'E', 'e' }) < 0) text += ".0"; // still a double to the engine
                    sb.Append(text);
                    return;
                case TypeCode.Decimal: sb.Append(((decimal)value).ToString(CultureInfo.InvariantCulture)); return;
                case TypeCode.DateTime: JsonValue.WriteString(sb, ((DateTime)value).ToString("o", CultureInfo.InvariantCulture)); return;
            }
            var dict = value as IDictionary;
            if (dict != null)
            {
                sb.Append('{');
                bool first = true;
                foreach (DictionaryEntry e in dict)
                {
                    var key = e.Key as string;
                    if (key == null) throw Refuse(where, "is a dictionary whose keys are not strings");
                    if (!first) sb.Append(',');
                    first = false;
                    JsonValue.WriteString(sb, key);
                    sb.Append(':');
                    Write(sb, e.Value, depth + 1, where + "." + key);
                }
                sb.Append('}');
                return;
            }
            var list = value as IEnumerable;
            if (list != null)
            {
                sb.Append('[');
                int i = 0;
                foreach (var item in list)
                {
                    if (i > 0) sb.Append(',');
                    Write(sb, item, depth + 1, where + "[" + i + "]");
                    i++;
                }
                sb.Append(']');
                return;
            }
            var type = value.GetType();
            if (type.IsPrimitive || typeof(Delegate).IsAssignableFrom(type) || type == typeof(IntPtr) || !(type.IsClass || type.IsValueType))
                throw Refuse(where, "is a `" + type.Name + "`, which has no JSON form");
            sb.Append('{');
            bool firstMember = true;
            foreach (var m in Members(type))
            {
                if (!firstMember) sb.Append(',');
                firstMember = false;
                JsonValue.WriteString(sb, m.Name);
                sb.Append(':');
                Write(sb, m.Get(value), depth + 1, where + "." + m.Name);
            }
            sb.Append('}');
        }

        sealed class Member
        {
            public string Name;
            public Type Type;
            public Func<object, object> Get;
            public Action<object, object> Set;
        }

        static IEnumerable<Member> Members(Type type)
        {
            var members = new List<Member>();
            foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (p.GetIndexParameters().Length > 0 || p.GetGetMethod() == null || p.IsDefined(typeof(IgnoreDataMemberAttribute), true)) continue;
                var prop = p;
                members.Add(new Member
                {
                    Name = NameOf(p), Type = p.PropertyType, Get = o => prop.GetValue(o, null),
                    Set = p.GetSetMethod() != null ? (Action<object, object>)((o, v) => prop.SetValue(o, v, null)) : null,
                });
            }
            foreach (var f in type.GetFields(BindingFlags.Public | BindingFlags.Instance))
            {
                if (f.IsDefined(typeof(IgnoreDataMemberAttribute), true)) continue;
                var field = f;
                members.Add(new Member
                {
                    Name = NameOf(f), Type = f.FieldType, Get = o => field.GetValue(o),
                    Set = f.IsInitOnly ? null : (Action<object, object>)((o, v) => field.SetValue(o, v)),
                });
            }
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var m in members)
                if (!names.Add(m.Name)) throw new RequestException("two members of `" + type.Name + "` are named `" + m.Name + "`", null);
            return members;
        }

        static string NameOf(MemberInfo m)
        {
            var dm = (DataMemberAttribute)Attribute.GetCustomAttribute(m, typeof(DataMemberAttribute));
            return dm != null && !string.IsNullOrEmpty(dm.Name) ? dm.Name : m.Name;
        }

        /// <summary>A fresh value of <paramref name="type"/> from JSON (what the governed delegate receives).</summary>
        internal static object Decode(JsonValue json, Type type, string where)
        {
            var underlying = Nullable.GetUnderlyingType(type);
            if (json.Kind == JsonKind.Null)
            {
                if (type.IsValueType && underlying == null) throw Refuse(where, "is null where `" + type.Name + "` is expected");
                return null;
            }
            if (underlying != null) type = underlying;
            if (type == typeof(JsonValue)) return json;
            if (type == typeof(object)) return Natural(json);
            if (type == typeof(string)) return json.AsString;
            if (type == typeof(bool)) return json.AsBool;
            if (type == typeof(char)) { var s = json.AsString; if (s.Length != 1) throw Refuse(where, "is not one character"); return s[0]; }
            if (type.IsEnum) return Enum.Parse(type, json.AsString);
            if (type == typeof(DateTime)) return DateTime.Parse(json.AsString, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
            if (type == typeof(double)) return json.AsDouble;
            if (type == typeof(float)) return float.Parse(json.NumberToken, NumberStyles.Float, CultureInfo.InvariantCulture);
            if (type == typeof(decimal)) return decimal.Parse(json.NumberToken, NumberStyles.Float, CultureInfo.InvariantCulture);
            if (type.IsPrimitive) return Convert.ChangeType(decimal.Parse(json.NumberToken, NumberStyles.Float, CultureInfo.InvariantCulture), type, CultureInfo.InvariantCulture);
            if (type.IsArray)
            {
                var element = type.GetElementType();
                var items = json.Items;
                var array = Array.CreateInstance(element, items.Count);
                for (int i = 0; i < items.Count; i++) array.SetValue(Decode(items[i], element, where + "[" + i + "]"), i);
                return array;
            }
            if (type.IsGenericType)
            {
                var def = type.GetGenericTypeDefinition();
                var args = type.GetGenericArguments();
                if ((def == typeof(Dictionary<,>) || def == typeof(IDictionary<,>) || def == typeof(IReadOnlyDictionary<,>)) && args[0] == typeof(string))
                {
                    var dict = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(args));
                    foreach (var m in json.Members) dict[m.Key] = Decode(m.Value, args[1], where + "." + m.Key);
                    return dict;
                }
                if (def == typeof(List<>) || def == typeof(IList<>) || def == typeof(IEnumerable<>) || def == typeof(IReadOnlyList<>) || def == typeof(ICollection<>))
                {
                    var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(args));
                    int i = 0;
                    foreach (var item in json.Items) list.Add(Decode(item, args[0], where + "[" + i++ + "]"));
                    return list;
                }
            }
            if (json.Kind != JsonKind.Object) throw Refuse(where, "is not an object where `" + type.Name + "` is expected");
            object target;
            try { target = Activator.CreateInstance(type); }
            catch (Exception e) { throw Refuse(where, "of type `" + type.Name + "` cannot be created fresh (" + e.Message + "); give it a public parameterless constructor"); }
            var members = Members(type).ToDictionary(m => m.Name, StringComparer.Ordinal);
            foreach (var m in json.Members)
            {
                Member member;
                if (!members.TryGetValue(m.Key, out member) || member.Set == null)
                    throw Refuse(where + "." + m.Key, "cannot be set on a fresh `" + type.Name + "`");
                member.Set(target, Decode(m.Value, member.Type, where + "." + m.Key));
            }
            return target;
        }

        /// <summary>JSON as plain .NET values: long or double, string, bool, null, List, Dictionary.</summary>
        internal static object Natural(JsonValue json)
        {
            switch (json.Kind)
            {
                case JsonKind.Null: return null;
                case JsonKind.Bool: return json.AsBool;
                case JsonKind.String: return json.AsString;
                case JsonKind.Number:
                    long l;
                    if (json.IsIntegerToken && long.TryParse(json.NumberToken, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out l)) return l;
                    return json.AsDouble;
                case JsonKind.Array: return json.Items.Select(Natural).ToList();
                default:
                    var d = new Dictionary<string, object>(StringComparer.Ordinal);
                    foreach (var m in json.Members) d[m.Key] = Natural(m.Value);
                    return d;
            }
        }
    }
}
