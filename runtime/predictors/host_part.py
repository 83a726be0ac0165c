"""The host's part for ``Model``, ``Classify`` and ``Evaluation(s)``: declaring them, calling
their handles, and Tactus's modules over them. ``runtime.host.Host`` mixes it in."""

from __future__ import annotations

from typing import Any

from runtime.declarations import Declarations
from runtime.evaluation.config import parse_evaluation
from runtime.predictors.classify import (
    ClassifierDecl,
    classify,
    instance_field,
    llm_model,
    parse_classifier,
    parse_reply,
)
from runtime.predictors.model import ModelDecl, parse_model
from runtime.predictors.modules import SOURCES
from runtime.sandbox import Sandbox

PREDICTION_KINDS = ("model", "classifier", "evaluation", "evaluations")
MODEL_METHODS = ("predict",)
CLASSIFIER_METHODS = ("classify", "parse_response")


class PredictionHostPart:
    """Needs the host's declarations, sandbox, effects, ids and handles."""

    declarations: Declarations
    sandbox: Sandbox
    effects: Any
    library: Any
    _handles: dict[tuple[str, int], Any]

    def new_id(self) -> int:
        raise NotImplementedError

    def _make_handle(self, kind: str, ident: int, methods: tuple[str, ...]) -> Any:
        raise NotImplementedError

    def to_lua(self, value: Any) -> Any:
        raise NotImplementedError

    def _declare_prediction(
        self, kind: str, name: str | None, config: Any, file: str | None, line: int | None
    ) -> Any:
        decls = self.declarations
        if kind == "model":
            model = parse_model(self.new_id(), name, config, file, line)
            decls.warnings.extend((w, file, line) for w in model.warnings)
            decls.models[model.id] = model
            return self._make_handle("model", model.id, MODEL_METHODS)
        if kind == "classifier":
            classifier, warnings = parse_classifier(self.new_id(), config, file, line)
            decls.warnings.extend((w, file, line) for w in warnings)
            if classifier.method == "llm":
                classifier.model = llm_model(classifier, self.new_id())
            decls.classifiers[classifier.id] = classifier
            handle = self._make_handle("classifier", classifier.id, CLASSIFIER_METHODS)
            if isinstance(config, dict) and "input" in config:
                return self.to_lua(self._classify(classifier, config["input"]))
            return handle
        settings, evaluations, problems = parse_evaluation(kind, config, file, line)
        decls.warnings.extend((f"{kind.capitalize()}: {p}", file, line) for p in problems)
        decls.evaluation = settings or decls.evaluation
        decls.evaluations = evaluations or decls.evaluations
        return None

    def _call_prediction(self, decl: ModelDecl | ClassifierDecl, argument: Any) -> Any:
        if isinstance(decl, ModelDecl):
            return self.to_lua(self.effects.predict(decl, {} if argument is None else argument))
        return self.to_lua(self._classify(decl, argument))

    def _handle_field(self, kind: str, ident: int, key: Any) -> Any:
        """A handle's field (``h.key``): a classifier's are Tactus's (``c.threshold``,
        ``c.model``: the handle of the model it asks); the library answers the others."""
        if kind != "classifier" or not isinstance(key, str):
            return self.library.handle_get(kind, ident, key)
        decl = self.declarations.classifiers[ident]
        if key == "model" and decl.model is not None:
            handle = self._handles.get(("model", decl.model.id))
            return handle or self._make_handle("model", decl.model.id, MODEL_METHODS)
        return self.to_lua(instance_field(decl, key))

    def _parse_response(self, decl: ClassifierDecl, reply: Any) -> str | None:
        """``c:parse_response(text)``: the class a classifier reads from a model's reply."""
        return parse_reply(decl, "" if reply is None else str(reply))

    def _classify(self, decl: ClassifierDecl, text: Any) -> Any:
        return classify(decl, text, self.effects.predict)

    def _prediction_module(self, name: str) -> Any:
        """Tactus's ``tactus.text.classify``, ``tactus.models.llm``, ``tactus.generate`` and
        ``tactus.text.extract``, or None."""
        if name not in SOURCES:
            return None
        chunk = self.sandbox.compile(SOURCES[name], "=" + name)
        env = self.sandbox.env
        return self.sandbox.call(chunk, env["Classify"], env["Model"], env["Agent"], env["Json"])
