"""ALOHA writer for JAX: helicity-amplitude routines as pure functions over lists of JAX arrays.

Subclasses ALOHA's Python writer and replaces the parts whose Python semantics do not carry over to
traced arrays: mutable ``WaveFunction`` objects, ``complex(x).real`` conversions, the ``if (M3):``
branch on a (possibly traced) mass, and the bare division by the propagator denominator. Everything
else (the symbolic Lorentz algebra, the contraction into TMP variables, the number formatting and the
routines that combine several Lorentz structures) is ALOHA's own.
"""

from __future__ import annotations

from io import StringIO

import aloha
from aloha import aloha_writers


class ALOHAWriterForJax(aloha_writers.ALOHAWriterForPython):
    """Writes one ALOHA routine as JAX code; the module header imports ``flowint.madjax.runtime as rt``."""

    _fct_format = {
        "cmath.sqrt": "rt.sqrt(%s)", "sqrt": "rt.sqrt(%s)", "csc": "rt.csc(%s)", "sec": "rt.sec(%s)",
        "acsc": "rt.acsc(%s)", "asec": "rt.asec(%s)", "re": "rt.re(%s)", "im": "rt.im(%s)",
        "complexconjugate": "rt.conj(%s)", "abs": "rt.fabs(%s)", "pow": "(%s)**(%s)", "/": "1/%s",
    }
    _cmath = {"exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh"}

    def get_foot_txt(self):
        return "    return rt.keep(%s)\n\n" % ("vertex" if not self.offshell else self.outname)

    def get_header_txt(self, name=None, couplings=None, mode=""):
        if name is None:
            name = self.name
        arguments = [arg for _, arg in self.define_argument_list(couplings)]
        return "def %s(%s):\n" % (name, ", ".join(arguments))

    def get_fct_format(self, fct):
        if fct in self._fct_format:
            return self._fct_format[fct]
        short = fct.split(".")[-1]
        if short in self._cmath:
            return "rt.%s(%%s)" % short
        raise Exception("flowint's JAX writer has no rule for the function %r" % fct)

    def get_one_momenta_def(self, i, strfile):
        kind = self.particles[i - 1]
        sign = self.get_P_sign(i)
        comps = ["rt.re(%s%d[0])", "rt.re(%s%d[1])", "rt.im(%s%d[1])", "rt.im(%s%d[0])"]
        strfile.write("    P%d = [%s]\n" % (i, ", ".join(sign + c % (kind, i) for c in comps)))

    def get_momenta_txt(self):
        if aloha.loop_mode:
            raise Exception("flowint's JAX writer does not support loop-mode ALOHA routines")
        out = StringIO()
        signs = self.get_momentum_conservation_sign()
        incoming_slots = []
        for i, kind in enumerate(self.particles):
            if self.declaration.is_used("OM%s" % (i + 1)):
                out.write("    OM{0} = rt.inverse_square(M{0})\n".format(i + 1))
            if i + 1 == self.outgoing:
                continue
            if self.offshell:
                incoming_slots.append("%s%s%d[%%d]" % (signs[i], kind, i + 1))
            if self.declaration.is_used("P%s" % (i + 1)):
                self.get_one_momenta_def(i + 1, out)
        if self.offshell:
            kind = self.particles[self.outgoing - 1]
            size = self.type_to_size[kind]
            name = "%s%d" % (kind, self.outgoing)
            out.write("    %s = [None] * %d\n" % (name, size))
            for slot in range(2):
                out.write("    %s[%d] = %s\n" % (name, slot, "".join(incoming_slots) % ((slot,) * len(incoming_slots))))
            self.get_one_momenta_def(self.outgoing, out)
        return out.getvalue()

    def define_expression(self):
        out = StringIO()
        for name in sorted(self.routine.contracted):
            out.write("    %s = rt.keep(%s)\n" % (name, self.write_obj(self.routine.contracted[name])))
        for name in sorted(self.routine.fct, key=lambda n: (len(n), n)):
            fct, objs = self.routine.fct[name]
            args = tuple(self.write_obj(obj) for obj in objs)
            fmt = self.get_fct_format(fct)
            out.write("    %s = %s\n" % (name, fmt % (args if fmt.count("%s") > 1 else ", ".join(args))))

        numerator = self.routine.expr
        with_coupling = "Coup(1)" not in self.routine.infostr
        if not self.offshell:
            expr = self.write_obj(numerator.get_rep([0]))
            out.write("    vertex = %s\n" % ("COUP*" + expr if with_coupling else expr))
            return out.getvalue()

        coup = "COUP" if with_coupling else "1"
        i = self.outgoing
        if "L" in self.tag:
            factor = "COUP"
        else:
            factor = "denom"
            if self.routine.denominator:
                if aloha.complex_mass:
                    raise Exception("a custom propagator is incompatible with the complex-mass scheme")
                out.write("    denom = rt.custom_propagator(%s, %s)\n"
                          % (coup, self.write_obj(self.routine.denominator)))
            elif aloha.complex_mass:
                out.write("    denom = rt.propagator_cms(%s, P%d, M%d)\n" % (coup, i, i))
            else:
                out.write("    denom = rt.keep(rt.propagator(%s, P%d, M%d, W%d))\n" % (coup, i, i, i))
        for ind in numerator.listindices():
            out.write("    %s[%d] = %s*%s\n" % (self.outname, self.pass_to_HELAS(ind), factor,
                                                 self.write_obj(numerator.get_rep(ind))))
        return out.getvalue()


def write_routines(aloha_model):
    """Text of every routine (and combined routine) of an ALOHA model, sorted by name."""
    chunks = []
    for key in sorted(aloha_model, key=lambda k: str(k)):
        routine = aloha_model[key]
        writer = ALOHAWriterForJax(routine, None)
        text = writer.write()
        for grouped in routine.combined:
            text += writer.write_combined(grouped, mode="no_include")
        chunks.append(text.strip() + "\n")
    return chunks
