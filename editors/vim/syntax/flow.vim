" Vim syntax file
" Language:     flow (flowc's HTTP orchestration language)
" Filenames:    *.flow
" Maintainer:   the flowc authors
"
" The word lists below are copied from flowc/grammar/keywords.py, the one
" list of the language's words; tests/test_keywords.py checks that they are
" equal to it and asks Vim itself that every word is highlighted.  Update
" both together.
"
" Groups (and their default links):
"   flowKeyword          statements: if else while try catch return ...   Keyword
"   flowDeclaration      flow service type const let var step            Keyword
"   flowImport           import, and `as` in `as NAME`                   Include
"   flowOperatorWord     in                                              Operator
"   flowBoolean/flowNull true false / null                               Boolean / Constant
"   flowClause           query headers retry backoff when ...            PreProc
"   flowHttpMethod       GET POST PUT PATCH DELETE HEAD OPTIONS          Special
"   flowType             builtin types (flowTypeBuiltin in type places)  Type
"   flowTypeName         user types after -> : type X =                  Type
"   flowBuiltinFunction  builtin functions before `(`                    Function
"   flowFlowName, flowStepName, flowServiceName, flowTypeDef,
"   flowConstName, flowVarName, flowForVar, flowParamName,
"   flowImportAlias      names at their declaration
"   flowNumber flowFloat flowDuration                                    Number / Float / Number
"   flowString flowRawString flowBytes, flowStringPrefix, flowEscape    String / Special / SpecialChar
"   flowInterp           ${...}: delimiters flowInterpDelim, contents are
"                        the expression groups
"   flowComment, flowOperator, flowDelimiter, flowError

scriptencoding utf-8

if exists('b:current_syntax')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

" ---------------------------------------------------------------- the words
let s:declaration_keywords = ['import', 'type', 'const', 'service', 'flow']
let s:statement_keywords = [
      \ 'let', 'var', 'step', 'sleep', 'if', 'else', 'for', 'in', 'while',
      \ 'parallel', 'branch', 'try', 'catch', 'finally', 'log', 'assert',
      \ 'fail', 'return', 'break', 'continue', 'yield']
let s:literal_keywords = ['true', 'false', 'null']
let s:statement_clause_keywords = ['timeout', 'retry']
let s:clause_keywords = [
      \ 'as', 'call', 'query', 'headers', 'json', 'form', 'body', 'auth',
      \ 'bearer', 'basic', 'header', 'oauth2', 'client_credentials', 'aws_sigv4', 'backoff', 'fixed', 'linear',
      \ 'exponential', 'max', 'factor', 'jitter', 'when', 'accept',
      \ 'idempotency_key', 'fallback', 'compensate', 'on', 'error', 'skip',
      \ 'circuit_breaker', 'failures', 'within', 'cooldown', 'rate_limit',
      \ 'per', 'concurrency', 'openapi', 'url', 'grpc', 'proto', 'tls', 'max_body',
      \ 'wait', 'signal']
let s:http_methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']
let s:builtin_types = [
      \ 'int', 'uint', 'float', 'double', 'bool', 'string', 'bytes', 'null',
      \ 'duration', 'timestamp', 'json', 'secret', 'list', 'map']
let s:builtin_functions = [
      \ 'size', 'int', 'uint', 'double', 'string', 'bytes', 'bool', 'type',
      \ 'dyn', 'matches', 'contains', 'startsWith', 'endsWith', 'duration',
      \ 'timestamp', 'has', 'all', 'exists', 'exists_one', 'map', 'filter',
      \ 'env', 'secret', 'now', 'uuid', 'callback_url', 'json_encode', 'json_decode', 'lower',
      \ 'upper', 'trim', 'split', 'join', 'replace', 'keys', 'values', 'range',
      \ 'sum', 'merge', 'hmac_sha256', 'hmac_sha512', 'sha256']

" A whole-word alternation of a list: \<\%(a\|b\)\>
function! s:Words(list) abort
  return '\<\%(' . join(a:list, '\|') . '\)\>'
endfunction

" Words with rules of their own; every other statement word is a flowKeyword.
let s:own_rules = ['flow', 'service', 'type', 'const', 'let', 'var', 'step',
      \ 'import', 'in', 'catch', 'for']

syntax case match
syntax sync minlines=200

" ---------------------------------------------------------------- basics
" Anything that cannot start a token.  Defined first: every later item that
" matches at the same place wins over it.
syntax match flowError /[^[:space:][:alnum:]_#"'(){}\[\],.:?!=<>+\-*\/%]/
syntax match flowError /\<\d\w*/
syntax match flowComment /#.*$/ contains=@Spell

" Punctuation and operators.
syntax match flowDelimiter /[(),:.\[\]]/
syntax match flowBrace /[{}]/
syntax match flowOperator /==\|!=\|<=\|>=\|&&\|||\|??\|\.\.\|[-+*\/%!<>=?]/
syntax match flowArrow /->/ nextgroup=flowTypeName,flowTypeBuiltin,flowRecordType skipwhite

" ---------------------------------------------------------------- words
" All words are `syntax match` items, not `syntax keyword`s: a keyword would
" win over everything, but a field name may be any word (`err.step`,
" `{fail: 2}`), so flowKey and flowMember, defined after these, must win.
function! s:Match(group, words, ...) abort
  execute 'syntax match' a:group '/' . s:Words(a:words) . '/' join(a:000)
endfunction

" Builtin types in expressions (`type(x) == int`).  First: `null` is the
" literal and `json` the clause word where those match too.
execute 'syntax match flowType /' . s:Words(s:builtin_types) . '\%(\s*(\)\@!/'

call s:Match('flowKeyword',
      \ filter(copy(s:statement_keywords), 'index(s:own_rules, v:val) < 0'))
call s:Match('flowKeyword', ['catch'], 'nextgroup=flowVarName skipwhite')
call s:Match('flowKeyword', ['for'], 'nextgroup=flowForVar skipwhite')
call s:Match('flowOperatorWord', ['in'])
call s:Match('flowImport', ['import'])
call s:Match('flowDeclaration', ['flow'], 'nextgroup=flowFlowName skipwhite')
call s:Match('flowDeclaration', ['service'], 'nextgroup=flowServiceName skipwhite')
call s:Match('flowDeclaration', ['step'], 'nextgroup=flowStepName skipwhite')
call s:Match('flowDeclaration', ['const'], 'nextgroup=flowConstName skipwhite')
call s:Match('flowDeclaration', ['let', 'var'], 'nextgroup=flowVarName skipwhite')
" `type` is also a builtin function: `type X =` declares, `type(x)` calls.
syntax match flowDeclaration /\<type\>\%(\s*(\)\@!/ nextgroup=flowTypeDef skipwhite
call s:Match('flowBoolean', filter(copy(s:literal_keywords), 'v:val !=# "null"'))
call s:Match('flowNull', ['null'])
call s:Match('flowHttpMethod', s:http_methods, 'nextgroup=flowServiceRef skipwhite')

" Clause words stay usable as names: not before `.`, `=` or a `key:` colon.
execute 'syntax match flowClause /'
      \ . s:Words(s:statement_clause_keywords + s:clause_keywords)
      \ . '\%(\s*\.\%(\.\)\@!\|:\%(:\)\@!\|\s*=\%(=\)\@!\)\@!/'
syntax match flowClause /\<call\>/ nextgroup=flowFlowRef skipwhite
syntax match flowImport /\<as\>\ze\s\+\h/ nextgroup=flowImportAlias skipwhite

" Record keys and named arguments (`{json: 1}`, `f(user_id: x)`), members,
" method calls and builtin functions before `(`.
execute 'syntax match flowKey /\%(' . s:Words(s:literal_keywords) . '\)\@!\<\h\w*\ze:\%(:\)\@!/'
syntax match flowMember /\%(\.\s*\)\@<=\h\w*/
syntax match flowMethod /\%(\.\s*\)\@<=\h\w*\ze\s*(/
execute 'syntax match flowBuiltinFunction /' . s:Words(s:builtin_functions) . '\ze\s*(/'

" ---------------------------------------------------------------- numbers
syntax match flowNumber /\<\%(0[xX]\x[0-9a-fA-F_]*\|\d[0-9_]*\)[uU]\=\%(\w\)\@!/
syntax match flowFloat
      \ /\<\d[0-9_]*\%(\.\d[0-9_]*\%([eE][+-]\=\d\+\)\=\|[eE][+-]\=\d\+\)\%(\w\)\@!/
syntax match flowFloat /\%([[:alnum:]_)\]}.]\)\@1<!\.\d[0-9_]*\%([eE][+-]\=\d\+\)\=\%(\w\)\@!/
syntax match flowDuration
      \ /\<\%(\d\+\%(\.\d\+\)\=\%(ns\|us\|µs\|ms\|s\|m\|h\)\)\+\%(\w\)\@!/

" ---------------------------------------------------------------- strings
syntax match flowEscapeError /\\.\|\\$/ contained
syntax match flowEscape
      \ /\\\%([abfnrtv\\"'`?$]\|[xX]\x\{2}\|u\x\{4}\|U\x\{8}\|[0-3]\o\{2}\)/ contained

" Text strings, with escapes and ${...}; the triple-quoted ones are defined
" last so that they win where both could start.
syntax region flowString start=/"/ skip=/\\\\\|\\"/ end=/"/ end=/$/
      \ contains=flowEscape,flowEscapeError,flowInterp
syntax region flowString start=/'/ skip=/\\\\\|\\'/ end=/'/ end=/$/
      \ contains=flowEscape,flowEscapeError,flowInterp
syntax region flowString start=/"""/ skip=/\\\\\|\\"/ end=/"""/
      \ contains=flowEscape,flowEscapeError,flowInterp
syntax region flowString start=/'''/ skip=/\\\\\|\\'/ end=/'''/
      \ contains=flowEscape,flowEscapeError,flowInterp

" r"..." and b"..." (and br, rb): the prefix, then a string of that kind.
syntax match flowStringPrefix /\<\%([rR][bB]\=\|[bB][rR]\)\ze["']/
      \ nextgroup=flowRawString
syntax match flowStringPrefix /\<[bB]\ze["']/ nextgroup=flowBytes
syntax region flowRawString start=/"/ skip=/\\./ end=/"/ end=/$/ contained
syntax region flowRawString start=/'/ skip=/\\./ end=/'/ end=/$/ contained
syntax region flowRawString start=/"""/ skip=/\\./ end=/"""/ contained
syntax region flowRawString start=/'''/ skip=/\\./ end=/'''/ contained
syntax region flowBytes start=/"/ skip=/\\\\\|\\"/ end=/"/ end=/$/ contained
      \ contains=flowEscape,flowEscapeError
syntax region flowBytes start=/'/ skip=/\\\\\|\\'/ end=/'/ end=/$/ contained
      \ contains=flowEscape,flowEscapeError
syntax region flowBytes start=/"""/ skip=/\\\\\|\\"/ end=/"""/ contained
      \ contains=flowEscape,flowEscapeError
syntax region flowBytes start=/'''/ skip=/\\\\\|\\'/ end=/'''/ contained
      \ contains=flowEscape,flowEscapeError

" ${expr}: the expression inside is highlighted with the expression groups;
" `{...}` map literals nest.
syntax cluster flowExpr contains=flowError,flowComment,flowDelimiter,flowOperator,
      \flowKeyword,flowOperatorWord,flowBoolean,flowNull,flowHttpMethod,flowClause,
      \flowType,flowKey,flowMember,flowMethod,flowBuiltinFunction,flowNumber,flowFloat,
      \flowDuration,flowString,flowStringPrefix,flowDeclaration,flowImport
syntax region flowInterp matchgroup=flowInterpDelim start=/\${/ end=/}/ contained
      \ contains=@flowExpr,flowInterpBraces
syntax region flowInterpBraces matchgroup=flowBrace start=/{/ end=/}/ contained transparent
      \ contains=@flowExpr,flowInterpBraces

" ---------------------------------------------------------------- declarations
syntax match flowFlowName /\h\w*/ contained nextgroup=flowParams skipwhite
syntax region flowParams matchgroup=flowDelimiter start=/(/ end=/)/ contained
      \ contains=@flowExpr,flowArrow,flowParamParens,flowParamBraces,flowParamName
syntax region flowParamParens matchgroup=flowDelimiter start=/(/ end=/)/ contained transparent
      \ contains=@flowExpr,flowParamParens,flowParamBraces
syntax region flowParamBraces matchgroup=flowBrace start=/{/ end=/}/ contained transparent
      \ contains=@flowExpr,flowParamParens,flowParamBraces
syntax match flowParamName /\<\h\w*\ze\s*:/ contained nextgroup=flowTypeColon skipwhite
syntax match flowStepName /\h\w*/ contained
syntax match flowServiceName /\h\w*/ contained
syntax match flowConstName /\h\w*/ contained nextgroup=flowTypeColon skipwhite
syntax match flowVarName /\h\w*/ contained nextgroup=flowTypeColon skipwhite
syntax match flowForVar /\h\w*/ contained nextgroup=flowForComma skipwhite
syntax match flowForComma /,/ contained nextgroup=flowForVar skipwhite
syntax match flowImportAlias /\h\w*/ contained
syntax match flowFlowRef /\h\w*\%(\s*\.\s*\h\w*\)\=/ contained
syntax match flowServiceRef /\h\w*\ze\s*\%([rRbB]\{1,2}\)\=["']/ contained
syntax match flowTypeDef /\h\w*/ contained nextgroup=flowTypeEq skipwhite
syntax match flowTypeEq /=/ contained
      \ nextgroup=flowTypeName,flowTypeBuiltin,flowRecordType skipwhite skipempty

" ---------------------------------------------------------------- types
" A type is a name or builtin, optionally `[args]`, then optionally `?`;
" or a record `{field: T, opt?: T}`.
syntax match flowTypeColon /:/ contained
      \ nextgroup=flowTypeName,flowTypeBuiltin,flowRecordType skipwhite skipempty
syntax match flowTypeName /\h\w*\%(\.\h\w*\)\=/ contained
      \ nextgroup=flowTypeArgs,flowTypeOptional skipwhite
execute 'syntax match flowTypeBuiltin /' . s:Words(s:builtin_types) . '/ contained'
      \ 'nextgroup=flowTypeArgs,flowTypeOptional skipwhite'
syntax region flowTypeArgs matchgroup=flowDelimiter start=/\[/ end=/\]/ contained
      \ contains=flowTypeName,flowTypeBuiltin,flowRecordType,flowTypeComma,flowComment
      \ nextgroup=flowTypeOptional skipwhite
syntax region flowRecordType matchgroup=flowBrace start=/{/ end=/}/ contained
      \ contains=flowRecordField,flowTypeComma,flowComment,flowString
      \ nextgroup=flowTypeOptional skipwhite
syntax match flowRecordField /\<\h\w*\ze\s*?\=\s*:/ contained
      \ nextgroup=flowFieldOptional,flowTypeColon skipwhite
syntax match flowFieldOptional /?/ contained nextgroup=flowTypeColon skipwhite
syntax match flowTypeOptional /?\%([?:]\)\@!/ contained
syntax match flowTypeComma /,/ contained

" ---------------------------------------------------------------- links
highlight default link flowError Error
highlight default link flowComment Comment
highlight default link flowDelimiter Delimiter
highlight default link flowBrace Delimiter
highlight default link flowOperator Operator
highlight default link flowArrow Operator
highlight default link flowKeyword Keyword
highlight default link flowOperatorWord Operator
highlight default link flowImport Include
highlight default link flowDeclaration Keyword
highlight default link flowBoolean Boolean
highlight default link flowNull Constant
highlight default link flowHttpMethod Special
highlight default link flowClause PreProc
highlight default link flowType Type
highlight default link flowBuiltinFunction Function
highlight default link flowMethod Function
highlight default link flowNumber Number
highlight default link flowFloat Float
highlight default link flowDuration Number
highlight default link flowEscape SpecialChar
highlight default link flowEscapeError Error
highlight default link flowString String
highlight default link flowRawString String
highlight default link flowBytes String
highlight default link flowStringPrefix Special
highlight default link flowInterpDelim Delimiter
highlight default link flowFlowName Function
highlight default link flowFlowRef Function
highlight default link flowStepName Function
highlight default link flowServiceName Identifier
highlight default link flowServiceRef Identifier
highlight default link flowImportAlias Identifier
highlight default link flowConstName Constant
highlight default link flowVarName Identifier
highlight default link flowForVar Identifier
highlight default link flowForComma Delimiter
highlight default link flowParamName Identifier
highlight default link flowTypeDef Typedef
highlight default link flowTypeEq Operator
highlight default link flowTypeColon Delimiter
highlight default link flowTypeName Type
highlight default link flowTypeBuiltin Type
highlight default link flowTypeOptional Operator
highlight default link flowFieldOptional Operator
highlight default link flowTypeComma Delimiter

delfunction s:Words
delfunction s:Match
let b:current_syntax = 'flow'

let &cpo = s:cpo_save
unlet s:cpo_save
