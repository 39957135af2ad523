# The man page, --help and the code stay in step: every command of the dispatch table and every
# long option of each command's option table appears in man/jobreport.1 and in the command's
# --help; the page lints clean; the exit statuses it documents are the ones the code returns.
. "$TOP/tests/cli/lib.sh"
man="$TOP/man/jobreport.1"

mandoc -Tlint -Wwarning "$man" || fail "mandoc lint"

# Commands from the dispatch table in cmd/jobreport.c.
cmds=$(sed -n '/^static const struct cmd_def commands\[\] = {/,/^};/p' "$TOP/cmd/jobreport.c" |
    grep -o '{"[a-z-]*"' | tr -d '{"')
[ -n "$cmds" ] || fail "no commands found in the dispatch table"
for c in $cmds; do
    grep -q "^\.Cm $c\$" "$man" || fail "command '$c' missing from the man page"
    jr --help
    expect_out_contains "  $c "
    # Long options from the command's getopt table.
    opts=$(grep -o '{"[a-z-]*", \(required\|no\)_argument' "$TOP/cmd/${c%%-*}.c" | cut -d'"' -f2)
    [ -n "$opts" ] || fail "no options found for '$c'"
    jr "$c" --help
    expect_rc 0
    for o in $opts; do
        [ "$o" = help ] && continue
        grep -q "^\.It Fl -$o\b" "$man" || fail "option '--$o' of '$c' missing from the man page"
        grep -q -- "--$o" out || fail "option '--$o' of '$c' missing from its --help"
    done
done

# Global options.
for o in bucket verbose quiet log-format lock-timeout; do
    grep -q "Fl -$o" "$man" || fail "global option '--$o' missing from the man page"
    jr --help
    grep -q -- "--$o" out || fail "global option '--$o' missing from --help"
done

# Exit statuses: the man page's list matches err.c's switch.
page=$(sed -n '/^\.Sh EXIT STATUS/,/^\.El/p' "$man" | grep '^\.It [0-9]' | cut -d' ' -f2 | tr '\n' ' ')
code=$(sed -n '/^jr_err_exit_status/,/^}/p' "$TOP/src/err.c" | grep -o 'return [0-9]*;' | grep -o '[0-9]*' | sort -un | tr '\n' ' ')
[ "$page" = "$code" ] || fail "exit statuses: man page '$page', code '$code'"
