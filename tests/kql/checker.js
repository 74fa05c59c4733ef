#!/usr/bin/env node
'use strict';
/*
 * Checks Azure Resource Graph (ARG) queries with Microsoft's own KQL front end, Kusto.Language
 * (npm @kusto/language-service-next, the C# library compiled to JavaScript with Bridge.NET).
 *
 * stdin:  a JSON array of {"name": ..., "query": ...}
 *         (with --serve: one such array per line, answered one line each, until stdin ends;
 *         so a test session starts Node and loads the parser once; the line "keywords" is
 *         answered with the texts of Kusto.Language's keywords)
 * stdout: a JSON array, one object per query, in input order:
 *   {name, diagnostics: [{source, severity, code, message, start, length, line, col}],
 *    literals: [string literal values as the parser reads them, in text order],
 *    numbers: [numeric literal values as the parser reads them, as text: "30", "1.5"],
 *    names: [identifier names, in text order],
 *    columns: [{name, type}: the columns of the query's result, as the binder computes them],
 *    shape: [syntax kinds of every node and token, in text order, without their texts]}
 * source is "syntax" (the parser), "semantic" (the binder, against arg-tables.json),
 * "analyzer" (Kusto.Language's best-practice analyzers, as an editor shows them) or
 * "arg-rules" (what ARG accepts, below). Exit status 0 when the input could be read, else 2:
 * judging the diagnostics is the caller's business (tests/kql/kqlcheck.py).
 *
 * The shape leaves out the text of literals and identifiers, so two queries that differ only
 * in a value have the same shape; a value that changed the structure of a query (ended a
 * literal, started a comment, added an operator) changes it. Comments are trivia, not tokens,
 * so a token preceded by a comment adds "Comment" to the shape.
 */
const fs = require('fs');
const path = require('path');

global.Bridge = require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.js');

const K = global.Kusto.Language;
const Sym = K.Symbols;
const Syn = K.Syntax;
const NO_CANCEL = new K.Utils.CancellationToken(); // a struct: its default never cancels

/* ---------------------------------------------------------------------------------------
 * ARG rules. "Understanding the Azure Resource Graph query language", sections "Supported
 * tabular/top level operators" and "Resource Graph tables" (join flavors):
 * https://learn.microsoft.com/azure/governance/resource-graph/concepts/query-language
 * The operator list is the documented one (the service may accept more; we emit only these).
 * take/limit are on it, but the paging page says ARG returns no $skipToken when the query
 * has a limit or sample/take operator, or when every output column is dynamic or null:
 * https://learn.microsoft.com/azure/governance/resource-graph/concepts/paging-results
 * join: "Limit of three join in a single query, one of which might be a cross-table join. If
 * all cross-table join use is between Resource and ResourceContainers, then three cross-table
 * join are allowed." (MicrosoftDocs/azure-docs articles/governance/resource-graph/concepts/
 * query-language.md, the join row of the operator table).
 * ------------------------------------------------------------------------------------- */
const OPERATORS = new Set([
  'count', 'distinct', 'extend', 'join', 'limit', 'mv-expand', 'order', 'parse', 'project',
  'project-away', 'sort', 'summarize', 'take', 'top', 'union', 'where',
]);
const JOIN_KINDS = new Set(['inner', 'innerunique', 'leftouter', 'fullouter']);
const MAX_JOINS = 3; // "Limit of three join in a single query"
const MAX_MV_EXPANDS = 3; // "a default limit of three join and three mv-expand operators in a single ... query"
const MAX_UNION_LEGS = 3; // "Limit of three union legs in a single query"
const NO_PAGING = new Set(['take', 'limit']);
const MAX_CROSS_JOINS = 1;
const FREE_CROSS_JOIN = new Set(['resources', 'resourcecontainers']);

function items(list) {
  const out = [];
  for (let i = 0; list && i < list.Count; i++) out.push(list.getItem(i));
  return out;
}

const KIND_NAMES = new Map();

function kindName(element) {
  let name = KIND_NAMES.get(element.Kind);
  if (name === undefined) {
    name = System.Enum.toString(Syn.SyntaxKind, element.Kind);
    KIND_NAMES.set(element.Kind, name);
  }
  return name;
}

function loadGlobals(file) {
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  const columns = Object.entries(spec.columns).map(([c, t]) => `['${c}']:${t}`).join(', ');
  const tables = [];
  for (const [lower, pascal] of Object.entries(spec.tables)) {
    for (const name of [lower, pascal]) tables.push(new Sym.TableSymbol.$ctor7(name, `(${columns})`, null));
  }
  const db = new Sym.DatabaseSymbol.ctor('arg', tables);
  return K.GlobalState.Default.WithCluster(new Sym.ClusterSymbol.ctor('arg', [db])).WithDatabase(db);
}

function diagnostic(d, source) {
  return {
    source,
    severity: String(d.Severity).toLowerCase(),
    code: d.Code,
    message: d.Message,
    start: d.Start,
    length: d.Length,
  };
}

function parserDiagnostics(code) {
  const key = (d) => `${d.Code}|${d.Start}|${d.Length}|${d.Message}`;
  const syntax = items(code.GetSyntaxDiagnostics());
  const syntaxKeys = new Set(syntax.map(key));
  // GetDiagnostics() holds the syntax diagnostics too; the rest are the binder's.
  const semantic = items(code.GetDiagnostics()).filter((d) => !syntaxKeys.has(key(d)));
  const analyzer = items(new K.Editor.KustoCodeService.ctor(code).GetAnalyzerDiagnostics(true, NO_CANCEL));
  return syntax.map((d) => diagnostic(d, 'syntax'))
    .concat(semantic.map((d) => diagnostic(d, 'semantic')), analyzer.map((d) => diagnostic(d, 'analyzer')));
}

function parameters(list) {
  return items(list).map((p) => ({
    name: p.Name ? p.Name.ToString().trim().toLowerCase() : '',
    value: p.Expression ? p.Expression.ToString().trim() : '',
    node: p,
  }));
}

/** The lower-case name of the first table an expression reads (null if it reads none). */
function firstTable(expression) {
  let table = null;
  Syn.SyntaxElement.WalkNodes(expression, (node) => {
    const symbol = table === null && Bridge.is(node, Syn.NameReference) ? node.ReferencedSymbol : null;
    if (symbol && Bridge.is(symbol, Sym.TableSymbol)) table = symbol.Name.toLowerCase();
  });
  return table;
}

function argDiagnostics(code) {
  const out = [];
  const add = (c, message, node) => out.push({
    source: 'arg-rules', severity: 'error', code: c, message, start: node.TextStart, length: node.Width,
  });
  let joins = 0;
  let mvExpands = 0;
  const crossJoins = [];
  Syn.SyntaxElement.WalkNodes(code.Syntax, (node) => {
    if (Bridge.is(node, Syn.Statement) && !Bridge.is(node, Syn.ExpressionStatement)) {
      add('ARG-STATEMENT', `'${node.GetFirstToken().Text}' statements are not documented for ARG`, node);
      return;
    }
    if (!Bridge.is(node, Syn.QueryOperator)) return;
    const keyword = node.GetFirstToken().Text.toLowerCase();
    if (!OPERATORS.has(keyword)) {
      add('ARG-OPERATOR', `operator '${keyword}' is not in ARG's supported-operator list`, node);
    }
    if (NO_PAGING.has(keyword)) {
      add('ARG-PAGING', `'${keyword}' stops ARG from returning a $skipToken`, node);
    }
    if (Bridge.is(node, Syn.JoinOperator)) {
      joins += 1;
      if (joins === MAX_JOINS + 1) add('ARG-JOINS', `more than ${MAX_JOINS} joins in one query`, node);
      const left = Bridge.is(node.Parent, Syn.PipeExpression) ? firstTable(node.Parent.Expression) : null;
      const right = firstTable(node.Expression);
      if (left !== null && right !== null && left !== right) crossJoins.push({ node, tables: [left, right] });
      for (const p of parameters(node.Parameters)) {
        if (p.name === 'kind' && !JOIN_KINDS.has(p.value.toLowerCase())) {
          add('ARG-JOIN-KIND', `join kind=${p.value} is not one of ${[...JOIN_KINDS].join(', ')}`, p.node);
        } else if (p.name !== 'kind') {
          add('ARG-JOIN-PARAMETER', `join parameter '${p.name}' is not documented for ARG`, p.node);
        }
      }
    }
    if (Bridge.is(node, Syn.MvExpandOperator)) {
      mvExpands += 1;
      if (mvExpands === MAX_MV_EXPANDS + 1) add('ARG-MV-EXPANDS', `more than ${MAX_MV_EXPANDS} mv-expand operators`, node);
    }
    if (Bridge.is(node, Syn.UnionOperator)) {
      const piped = node.Parent !== null && Bridge.is(node.Parent, Syn.PipeExpression);
      const legs = items(node.Expressions).length + (piped ? 1 : 0);
      if (legs > MAX_UNION_LEGS) add('ARG-UNION-LEGS', `union of ${legs} legs; ARG allows ${MAX_UNION_LEGS}`, node);
    }
  });
  const free = crossJoins.every((j) => j.tables.every((t) => FREE_CROSS_JOIN.has(t)));
  if (crossJoins.length > MAX_CROSS_JOINS && !free) {
    const pairs = crossJoins.map((j) => j.tables.join('-')).join(', ');
    add('ARG-CROSS-JOINS', `${crossJoins.length} cross-table joins (${pairs}); ARG allows ${MAX_CROSS_JOINS} ` +
        'unless all are between resources and resourcecontainers', crossJoins[MAX_CROSS_JOINS].node);
  }
  // Paging needs a result column that is not dynamic (a query the binder could not type is
  // reported by the binder already).
  const result = code.ResultType;
  if (result && Bridge.is(result, Sym.TableSymbol)) {
    const columns = items(result.Columns);
    if (columns.length > 0 && columns.every((c) => c.Type === Sym.ScalarTypes.Dynamic)) {
      add('ARG-PAGING', 'every output column is dynamic: ARG returns no $skipToken', code.Syntax);
    }
  }
  return out;
}

const NUMBER_KINDS = new Set([
  Syn.SyntaxKind.LongLiteralExpression, Syn.SyntaxKind.IntLiteralExpression, Syn.SyntaxKind.RealLiteralExpression,
]);

function walk(root) {
  const literals = [];
  const numbers = [];
  const names = [];
  const shape = [];
  Syn.SyntaxElement.WalkElements(root, (element) => {
    if (element.IsToken) {
      if (/\S/.test(element.Trivia)) shape.push('Comment');
      if (element.Kind === Syn.SyntaxKind.IdentifierToken) names.push(element.ValueText);
    } else if (element.Kind === Syn.SyntaxKind.StringLiteralExpression) {
      literals.push(element.LiteralValue);
    } else if (NUMBER_KINDS.has(element.Kind)) {
      // The value the parser computed, not the text: an out-of-range long reads as 0.
      numbers.push(String(Bridge.unbox(element.LiteralValue, true)));
    }
    shape.push(kindName(element));
  });
  return { literals, numbers, names, shape };
}

function lineCol(text, offset) {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

function resultColumns(code) {
  const result = code.ResultType;
  if (!result || !Bridge.is(result, Sym.TableSymbol)) return [];
  return items(result.Columns).map((c) => ({ name: c.Name, type: c.Type.Name }));
}

function check(name, text, globals) {
  const code = K.KustoCode.ParseAndAnalyze(text, globals);
  const diagnostics = parserDiagnostics(code).concat(argDiagnostics(code));
  for (const d of diagnostics) Object.assign(d, lineCol(text, d.start));
  diagnostics.sort((a, b) => a.start - b.start);
  return Object.assign({ name, diagnostics, columns: resultColumns(code) }, walk(code.Syntax));
}

function parseBatch(text) {
  const inputs = JSON.parse(text);
  if (!Array.isArray(inputs) || !inputs.every((q) => q && typeof q.query === 'string')) {
    throw new Error('expected a JSON array of {"name": ..., "query": ...}');
  }
  return inputs;
}

function keywords() {
  const out = [];
  const kinds = Bridge.getEnumerator(Syn.SyntaxFacts.GetKinds(Syn.SyntaxCategory.Keyword));
  while (kinds.moveNext()) out.push(Syn.SyntaxFacts.GetText(kinds.Current));
  return out;
}

function answer(inputs, globals) {
  return JSON.stringify(inputs.map((q) => check(String(q.name), q.query, globals)));
}

function serve(globals) {
  const lines = require('readline').createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    try {
      const reply = line.trim() === '"keywords"' ? JSON.stringify(keywords()) : answer(parseBatch(line), globals);
      process.stdout.write(reply + '\n');
    } catch (e) {
      process.stderr.write(`checker.js: ${e.message}\n`);
      process.exit(2);
    }
  });
}

function main() {
  const globals = loadGlobals(path.join(__dirname, 'arg-tables.json'));
  if (process.argv.includes('--serve')) {
    serve(globals);
    return;
  }
  try {
    process.stdout.write(answer(parseBatch(fs.readFileSync(0, 'utf8')), globals));
  } catch (e) {
    process.stderr.write(`checker.js: ${e.message}\n`);
    process.exitCode = 2;
  }
}

main();
