/** The CRD's OpenAPI v3 schema, generated from the same field table that validates specs. */
import { SPEC_SCHEMA } from './schema.ts';
import type { Field, StringField } from './schema.ts';

/** A node of an OpenAPI v3 structural schema (the subset this spec uses). Every node has a `type`. */
export interface OpenAPISchema {
  type: 'object' | 'integer' | 'string' | 'boolean' | 'array';
  description?: string;
  default?: number | string | boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  enum?: string[];
  properties?: Record<string, OpenAPISchema>;
  required?: string[];
  additionalProperties?: OpenAPISchema;
  items?: OpenAPISchema;
  maxItems?: number;
}

/**
 * The OpenAPI v3 structural schema of the input spec (the CRD's `spec`). Defaults that depend on other
 * fields are only described, so the API server does not fill in a value the spec's rules would reject.
 * `redisConfig` values are typed as strings: in a custom resource, numbers must be quoted.
 * `name` is required here as in files; the Kubernetes layer may fill it from `metadata.name` instead.
 */
export function specToOpenAPI(): OpenAPISchema {
  return toOpenAPI(SPEC_SCHEMA);
}

function toOpenAPI(field: Field): OpenAPISchema {
  const { description } = field;
  switch (field.kind) {
    case 'object': {
      const properties: Record<string, OpenAPISchema> = {};
      for (const [key, child] of Object.entries(field.fields)) properties[key] = toOpenAPI(child);
      return { type: 'object', description, properties, ...(field.required?.length ? { required: [...field.required] } : {}) };
    }
    case 'integer':
      return { type: 'integer', description, minimum: field.min, maximum: field.max, ...withDefault(field.default) };
    case 'boolean':
      return { type: 'boolean', description, ...withDefault(field.default) };
    case 'enum':
      return { type: 'string', description, enum: [...field.values], ...withDefault(field.default) };
    case 'string':
      return stringSchema(field);
    case 'list': {
      const { description: _, ...items } = stringSchema(field.items);
      return { type: 'array', description, maxItems: field.maxItems, items };
    }
    case 'stringMap':
      return { type: 'object', description, additionalProperties: { type: 'string', maxLength: field.maxValueLength } };
  }
}

function stringSchema(field: StringField): OpenAPISchema {
  return {
    type: 'string',
    description: field.description,
    ...withDefault(field.default),
    ...(field.minLength !== undefined ? { minLength: field.minLength } : {}),
    ...(field.maxLength !== undefined ? { maxLength: field.maxLength } : {}),
    ...(field.pattern !== undefined ? { pattern: field.pattern } : {}),
  };
}

function withDefault(value: number | string | boolean | undefined): Pick<OpenAPISchema, 'default'> {
  return value === undefined ? {} : { default: value };
}
