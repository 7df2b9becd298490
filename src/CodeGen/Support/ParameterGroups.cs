using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Reflection;
using CodeGen.Core.Storage;

namespace CodeGen.Commands.Support;

/// <summary>
/// The parameter groups a command offers as its dynamic parameters (<see cref="IDynamicParameters"/>). Each group is
/// declared once, as the [Parameter] properties of its class (<see cref="DataFileParameters"/>, <see cref="CacheParameters"/>,
/// <see cref="PromptParameters"/>...) with their validation, completion, transformation and aliases; a command offers the
/// groups it has, all of a group's parameters or those it names, in the parameter sets it names. PowerShell binds,
/// validates, completes and lists them as the command's own, and the help describes them as any other (docs/help).
/// </summary>
/// <remarks>
/// A command can hand PowerShell one object of dynamic parameters, so the groups are offered together, as a
/// <see cref="RuntimeDefinedParameterDictionary"/> built from their properties. The values PowerShell binds go back
/// to the group objects the first time the command reads a group (<see cref="Get{T}"/>): after binding, as none of
/// these parameters takes pipeline input.
/// </remarks>
internal sealed class ParameterGroups
{
    private readonly Dictionary<Type, object> _groups = [];
    private readonly List<(object Group, PropertyInfo Property, string[]? Sets)> _offered = [];
    private RuntimeDefinedParameterDictionary? _parameters;
    private bool _bound;

    /// <summary>
    /// Offers the parameters of the group <typeparamref name="T"/>: those named in <paramref name="only"/> (none named: all
    /// of them), in the parameter sets <paramref name="sets"/> (null: as the group declares them, in every set).
    /// </summary>
    public ParameterGroups Offer<T>(string[]? sets = null, params string[] only) where T : class, new()
    {
        if (!_groups.TryGetValue(typeof(T), out var group))
        {
            _groups[typeof(T)] = group = new T();
        }
        var properties = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(property => property.IsDefined(typeof(ParameterAttribute), inherit: true)).ToList();
        foreach (string name in only.Where(name => !properties.Any(property => property.Name == name)))
        {
            throw new ArgumentException($"{typeof(T).Name} has no parameter {name}.", nameof(only));
        }
        foreach (var property in properties.Where(property => only.Length == 0 || only.Contains(property.Name)))
        {
            if (_offered.Any(offered => offered.Property.Name == property.Name))
            {
                throw new ArgumentException($"-{property.Name} is offered twice.", nameof(only));
            }
            _offered.Add((group, property, sets));
        }
        return this;
    }

    /// <summary>The group <typeparamref name="T"/>, with the values the command was given for its parameters.</summary>
    public T Get<T>() where T : class
    {
        if (!_bound && _parameters is not null)
        {
            _bound = true;
            foreach (var (group, property, _) in _offered)
            {
                if (_parameters[property.Name] is { IsSet: true, Value: var value })
                {
                    property.SetValue(group, value is null || property.PropertyType.IsInstanceOfType(value) ? value : LanguagePrimitives.ConvertTo(value, property.PropertyType));
                }
            }
        }
        return (T)_groups[typeof(T)];
    }

    /// <summary>What the command's <see cref="IDynamicParameters.GetDynamicParameters"/> returns: the same parameters every time it is asked.</summary>
    public RuntimeDefinedParameterDictionary Parameters => _parameters ??= Build();

    private RuntimeDefinedParameterDictionary Build()
    {
        var parameters = new RuntimeDefinedParameterDictionary();
        foreach (var (_, property, sets) in _offered)
        {
            var declared = property.GetCustomAttributes(inherit: true).Cast<Attribute>().ToList();
            var attributes = new Collection<Attribute>();
            foreach (var parameter in declared.OfType<ParameterAttribute>())
            {
                foreach (var inSet in sets is null ? [parameter] : sets.Select(set => InSet(parameter, set)))
                {
                    attributes.Add(inSet);
                }
            }
            foreach (var attribute in declared.Where(attribute => attribute is not ParameterAttribute))
            {
                if (attribute is DataFormatSetAttribute formats)
                {
                    attributes.Add(formats.ToValidateSet());
                }
                else if (IsPowerShells(attribute))
                {
                    attributes.Add(attribute); // validation, transformation, completion, aliases; not the compiler's own
                }
            }
            parameters.Add(property.Name, new RuntimeDefinedParameter(property.Name, property.PropertyType, attributes));
        }
        return parameters;
    }

    private static bool IsPowerShells(Attribute attribute)
    {
        for (var type = attribute.GetType(); type is not null; type = type.BaseType)
        {
            if (type.Assembly == typeof(ParameterAttribute).Assembly)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary><paramref name="declared"/> as it is, in the parameter set <paramref name="set"/>.</summary>
    private static ParameterAttribute InSet(ParameterAttribute declared, string set)
    {
        var inSet = new ParameterAttribute
        {
            ParameterSetName = set,
            Position = declared.Position,
            Mandatory = declared.Mandatory,
            ValueFromPipeline = declared.ValueFromPipeline,
            ValueFromPipelineByPropertyName = declared.ValueFromPipelineByPropertyName,
            ValueFromRemainingArguments = declared.ValueFromRemainingArguments,
            DontShow = declared.DontShow,
        };
        if (!string.IsNullOrEmpty(declared.HelpMessage))
        {
            inSet.HelpMessage = declared.HelpMessage; // PowerShell refuses an empty one
        }
        return inSet;
    }
}

/// <summary>
/// A parameter that names a data format: PowerShell's ValidateSet of <see cref="DataFormats.Names"/> (or of each format's
/// own name), the one list of them, made when its group is offered (<see cref="ParameterGroups"/>). Validation, tab
/// completion and the help's list of values all come from it.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class DataFormatSetAttribute : Attribute
{
    /// <summary>Only each format's own name (csv, json, jsonl), not the other names a format has (ndjson).</summary>
    public bool OwnNamesOnly { get; init; }

    public ValidateSetAttribute ToValidateSet() => new([.. OwnNamesOnly ? DataFormats.OwnNames : DataFormats.Names]) { IgnoreCase = true };
}
