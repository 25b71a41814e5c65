using System.Globalization;
using System.Reflection;
using FluentValidation;
using FluentValidation.Validators;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Tally.Api.OpenApi;

/// <summary>
/// Shows what the FluentValidation rules of a request demand in its schema: required fields, lengths, ranges and
/// patterns, so the document and the server agree without restating rules as attributes.
/// </summary>
public sealed class ValidationSchemaFilter(IServiceProvider services) : ISchemaFilter
{
    private static readonly Type[] ValidatorTypes = typeof(ValidationSchemaFilter).Assembly.GetTypes()
        .Where(t => t is { IsAbstract: false, IsGenericTypeDefinition: false } && typeof(IValidator).IsAssignableFrom(t))
        .ToArray();

    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is not OpenApiSchema target || target.Properties is not { Count: > 0 } properties)
            return;
        foreach (var validator in ValidatorsFor(context.Type))
        {
            var descriptor = validator.CreateDescriptor();
            foreach (var property in context.Type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                var name = System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(property.Name);
                if (!properties.TryGetValue(name, out var propertySchema) || propertySchema is not OpenApiSchema field)
                    continue;
                foreach (var component in descriptor.GetRulesForMember(name).SelectMany(r => r.Components))
                {
                    if (component.HasCondition || component.HasAsyncCondition)
                        continue;
                    Describe(target, name, field, component.Validator);
                }
            }
        }
    }

    private static void Describe(OpenApiSchema owner, string name, OpenApiSchema field, IPropertyValidator validator)
    {
        switch (validator)
        {
            case INotNullValidator:
            case INotEmptyValidator:
                owner.Required ??= new HashSet<string>(StringComparer.Ordinal);
                owner.Required.Add(name);
                if (field.Type is { } type)
                    field.Type = type & ~JsonSchemaType.Null;
                if (validator is INotEmptyValidator && field.Type?.HasFlag(JsonSchemaType.String) == true)
                    field.MinLength ??= 1;
                break;
            case ILengthValidator length:
                if (length.Max > 0)
                    field.MaxLength = length.Max;
                if (length.Min > 0)
                    field.MinLength = length.Min;
                break;
            case IBetweenValidator between:
                field.Minimum = Convert.ToString(between.From, CultureInfo.InvariantCulture);
                field.Maximum = Convert.ToString(between.To, CultureInfo.InvariantCulture);
                break;
            case IRegularExpressionValidator regex:
                field.Pattern = regex.Expression;
                break;
        }
    }

    private IEnumerable<IValidator> ValidatorsFor(Type type)
    {
        foreach (var validatorType in ValidatorTypes)
        {
            var validated = ValidatedType(validatorType);
            if (validated is null || !validated.IsAssignableFrom(type))
                continue;
            yield return (IValidator)ActivatorUtilities.CreateInstance(services, validatorType);
        }
    }

    private static Type? ValidatedType(Type validatorType)
    {
        for (var t = validatorType; t is not null; t = t.BaseType)
        {
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(AbstractValidator<>))
                return t.GetGenericArguments()[0];
        }
        return null;
    }
}
