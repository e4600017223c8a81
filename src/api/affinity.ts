// The run pod's `affinity` (a core/v1 Affinity) as a schema with the pod API's rules, so that a policy
// whose affinity the API server would refuse in its CronJob is refused at admission, naming the field.
// Omitted from core/v1: nodeSelectorTerms' matchFields beyond metadata.name, and pod affinity terms'
// matchLabelKeys/mismatchLabelKeys (a run pod has no use for them; an unknown field is refused).

import { labelValue, qualifiedKeysRule, qualifiedName } from './core-rules.js';
import { cel, type CelRule, type Schema } from './openapi.js';

interface Requirement {
  operator: string;
  values?: string[];
}

const hasValues = (r: Requirement): boolean => (r.values?.length ?? 0) > 0;

/** In/NotIn need values, Exists/DoesNotExist take none (the pod API's messages, in other words). */
function valuesRules(extra: CelRule[] = []): CelRule[] {
  return [
    cel<Requirement>(
      "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)",
      'values must be set when operator is In or NotIn',
      (r) => !['In', 'NotIn'].includes(r.operator) || hasValues(r),
      { fieldPath: '.values', reason: 'FieldValueRequired' },
    ),
    cel<Requirement>(
      "!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || size(self.values) == 0",
      'values must be empty when operator is Exists or DoesNotExist',
      (r) => !['Exists', 'DoesNotExist'].includes(r.operator) || !hasValues(r),
      { fieldPath: '.values', reason: 'FieldValueForbidden' },
    ),
    ...extra,
  ];
}

function values(description: string, item: Schema): Schema {
  return { type: 'array', description, maxItems: 32, 'x-kubernetes-list-type': 'atomic', items: item };
}

const NODE_SELECTOR_REQUIREMENT: Schema = {
  type: 'object',
  tsName: 'NodeSelectorRequirement',
  description: 'A node label requirement: key, operator and values.',
  required: ['key', 'operator'],
  properties: {
    key: qualifiedName('The node label key.'),
    operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'], description: 'In, NotIn, Exists, DoesNotExist, Gt or Lt.' },
    values: values(
      'Values for In and NotIn (one or more), or the single integer for Gt and Lt; none for Exists and DoesNotExist.',
      labelValue('A value of the node label.'),
    ),
  },
  'x-kubernetes-validations': valuesRules([
    cel<Requirement>(
      "!(self.operator in ['Gt', 'Lt']) || (has(self.values) && size(self.values) == 1 && self.values[0].matches('^-?[0-9]+$'))",
      'values must be a single integer when operator is Gt or Lt',
      (r) => !['Gt', 'Lt'].includes(r.operator) || (r.values?.length === 1 && /^-?[0-9]+$/.test(r.values[0]!)),
      { fieldPath: '.values' },
    ),
  ]),
};

const NODE_SELECTOR_FIELD_REQUIREMENT: Schema = {
  type: 'object',
  tsName: 'NodeSelectorFieldRequirement',
  description: "A node field requirement: only metadata.name, with In or NotIn and one node name.",
  required: ['key', 'operator', 'values'],
  properties: {
    key: { type: 'string', enum: ['metadata.name'], description: 'The node field: metadata.name.' },
    operator: { type: 'string', enum: ['In', 'NotIn'], description: 'In or NotIn.' },
    values: { ...values('Exactly one node name.', { type: 'string', description: 'A node name.', maxLength: 253 }), minItems: 1, maxItems: 1 },
  },
};

const NODE_SELECTOR_TERM: Schema = {
  type: 'object',
  tsName: 'NodeSelectorTerm',
  description: 'Node requirements that must all hold (ANDed).',
  properties: {
    matchExpressions: { ...values('Requirements on node labels.', NODE_SELECTOR_REQUIREMENT), maxItems: 16 },
    matchFields: { ...values('Requirements on node fields.', NODE_SELECTOR_FIELD_REQUIREMENT), maxItems: 1 },
  },
};

const LABEL_SELECTOR_REQUIREMENT: Schema = {
  type: 'object',
  tsName: 'LabelSelectorRequirement',
  description: 'A pod label requirement: key, operator and values.',
  required: ['key', 'operator'],
  properties: {
    key: qualifiedName('The pod label key.'),
    operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'], description: 'In, NotIn, Exists or DoesNotExist.' },
    values: values('Values for In and NotIn (one or more); none for Exists and DoesNotExist.', labelValue('A label value.')),
  },
  'x-kubernetes-validations': valuesRules(),
};

function labelSelector(description: string): Schema {
  return {
    type: 'object',
    tsName: 'LabelSelector',
    tsDoc: 'A label selector (metav1.LabelSelector): matchLabels and matchExpressions, ANDed.',
    description,
    properties: {
      matchLabels: {
        type: 'object',
        description: 'Labels that must have exactly these values.',
        maxProperties: 32,
        additionalProperties: labelValue('The required label value.'),
        'x-kubernetes-validations': [qualifiedKeysRule('matchLabels')],
      },
      matchExpressions: { ...values('Label requirements.', LABEL_SELECTOR_REQUIREMENT), maxItems: 16 },
    },
  };
}

const POD_AFFINITY_TERM: Schema = {
  type: 'object',
  tsName: 'PodAffinityTerm',
  description: 'Pods (selected by labels, in some namespaces) and the topology domain the run pod shares or avoids with them.',
  required: ['topologyKey'],
  properties: {
    labelSelector: labelSelector('The pods this term is about.'),
    namespaceSelector: labelSelector("Namespaces whose pods are considered (with namespaces: their union). Default: the policy's namespace."),
    namespaces: values('Names of namespaces whose pods are considered.', {
      type: 'string',
      description: 'A namespace name.',
      maxLength: 63,
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
    }),
    topologyKey: qualifiedName('The node label whose value defines the topology domain, e.g. kubernetes.io/hostname.'),
  },
};

const WEIGHTED_POD_AFFINITY_TERM: Schema = {
  type: 'object',
  tsName: 'WeightedPodAffinityTerm',
  description: 'A preferred pod affinity term and its weight.',
  required: ['weight', 'podAffinityTerm'],
  properties: {
    weight: { type: 'integer', format: 'int32', minimum: 1, maximum: 100, description: 'Weight of this preference, 1-100.' },
    podAffinityTerm: POD_AFFINITY_TERM,
  },
};

function podAffinity(tsName: string, description: string): Schema {
  return {
    type: 'object',
    tsName,
    description,
    properties: {
      requiredDuringSchedulingIgnoredDuringExecution: { ...values('Terms that must all hold for the pod to be scheduled.', POD_AFFINITY_TERM), maxItems: 8 },
      preferredDuringSchedulingIgnoredDuringExecution: { ...values('Terms the scheduler prefers, by weight.', WEIGHTED_POD_AFFINITY_TERM), maxItems: 8 },
    },
  };
}

export const AFFINITY: Schema = {
  type: 'object',
  tsName: 'Affinity',
  description: 'Scheduling constraints of the run pod (a core/v1 Affinity).',
  properties: {
    nodeAffinity: {
      type: 'object',
      tsName: 'NodeAffinity',
      description: 'Nodes the run pod must or should run on.',
      properties: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          type: 'object',
          tsName: 'NodeSelector',
          description: 'Node requirements that must hold for the pod to be scheduled.',
          required: ['nodeSelectorTerms'],
          properties: {
            nodeSelectorTerms: { ...values('Terms of which at least one must hold (ORed).', NODE_SELECTOR_TERM), minItems: 1, maxItems: 8 },
          },
        },
        preferredDuringSchedulingIgnoredDuringExecution: {
          ...values('Node terms the scheduler prefers, by weight.', {
            type: 'object',
            tsName: 'PreferredSchedulingTerm',
            description: 'A preferred node term and its weight.',
            required: ['weight', 'preference'],
            properties: {
              weight: { type: 'integer', format: 'int32', minimum: 1, maximum: 100, description: 'Weight of this preference, 1-100.' },
              preference: NODE_SELECTOR_TERM,
            },
          }),
          maxItems: 8,
        },
      },
    },
    podAffinity: podAffinity('PodAffinity', 'Pods the run pod should be scheduled near.'),
    podAntiAffinity: podAffinity('PodAntiAffinity', 'Pods the run pod should be scheduled away from.'),
  },
};
