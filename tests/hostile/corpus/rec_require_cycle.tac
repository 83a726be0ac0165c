-- expect: runtime circular require
Procedure {
  function(input)
    require('corpus_mod_a')
  end
}
