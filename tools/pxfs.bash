# SPDX-License-Identifier: MIT
# bash completion for pxfs(1): the commands, each command's options and
# the values some of them take.  Commands and options are asked of the
# pxfs being completed ("pxfs help", "pxfs help CMD"), so this never
# falls behind the binary; arguments complete as file names.
# shellcheck shell=bash

_pxfs_commands()
{
	"$1" help 2>/dev/null | awk '/^commands:/ { on = 1; next }
		on && /^  [a-z]/ { print $1 } on && /^$/ { exit }'
}

# The options of command $2: the usage line's and the option lines'.
_pxfs_options()
{
	"$1" help "$2" 2>/dev/null | awk '
		NR == 1 || /^ +-/ {
			line = $0
			if (NR > 1) {
				sub(/^ +/, "", line)
				p = index(line, "  ")
				if (p) line = substr(line, 1, p - 1)
			}
			while (match(line, /(^|[^A-Za-z0-9-])--?[A-Za-z][A-Za-z0-9-]*/)) {
				o = substr(line, RSTART, RLENGTH)
				sub(/^[^-]/, "", o)
				print o
				line = substr(line, RSTART + RLENGTH)
			}
		}' | sort -u
}

_pxfs()
{
	local cur prev pxfs verb i
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	pxfs=${COMP_WORDS[0]}
	command -v "$pxfs" >/dev/null 2>&1 || pxfs=pxfs

	verb=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-q | -v | -vv | --quiet | --verbose) continue ;;
		esac
		verb=${COMP_WORDS[i]}
		break
	done
	if [[ -z $verb ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '-q -v --quiet --verbose --help
				--version' -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_pxfs_commands "$pxfs")" \
				-- "$cur"))
		fi
		return 0
	fi

	case $prev in
	--connector)
		COMPREPLY=($(compgen -W 'file redis' -- "$cur"))
		return 0 ;;
	--cache-mode)
		COMPREPLY=($(compgen -W 'disk memory' -- "$cur"))
		return 0 ;;
	--proxystore)
		COMPREPLY=($(compgen -W 'file: redis://' -- "$cur"))
		[[ $cur == file:* ]] &&
			COMPREPLY=($(compgen -d -P file: -- "${cur#file:}"))
		compopt -o nospace 2>/dev/null
		return 0 ;;
	-o)
		[[ $verb == mount ]] &&
			COMPREPLY=($(compgen -W 'ro' -- "$cur"))
		return 0 ;;
	--cache-dir | --to | --password-file)
		COMPREPLY=($(compgen -d -- "$cur"))
		compopt -o filenames 2>/dev/null
		return 0 ;;
	--type | --level | --chunk-size | --url | --prefix | --tag | \
	--timeout | --poll | --backoff | --poll-max | --mode | --lifetime | \
	--lease | --cache-size | --connect-timeout | --command-timeout)
		return 0 ;;
	esac

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_pxfs_options "$pxfs" "$verb")" \
			-- "$cur"))
		return 0
	fi
	case $verb in
	help)
		COMPREPLY=($(compgen -W "$(_pxfs_commands "$pxfs")" -- "$cur"))
		return 0 ;;
	lifetime)
		local n=0
		for ((i = i + 1; i < COMP_CWORD; i++)); do
			[[ ${COMP_WORDS[i]} == -* ]] || n=$((n + 1))
		done
		if ((n == 0)); then
			COMPREPLY=($(compgen -W 'end extend ls' -- "$cur"))
			return 0
		fi ;;
	esac
	COMPREPLY=($(compgen -f -- "$cur"))
	compopt -o filenames 2>/dev/null
	return 0
}

complete -F _pxfs pxfs
